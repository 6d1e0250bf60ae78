#!/usr/bin/python3
"""hello.py: the mpi4py twin of hello.c, for mpiwrap CI.

Rank 0 prints "hello size=N sum=S", where S is the allreduce (sum) of all
rank numbers, so a wrong size or a broken collective shows in one line.
Debian's python3-mpi4py is built on Open MPI, so this is an Open MPI
program that is not an ELF file: mpiwrap sees python3 as the command.
"""
from mpi4py import MPI

comm = MPI.COMM_WORLD
total = comm.allreduce(comm.Get_rank(), op=MPI.SUM)
if comm.Get_rank() == 0:
    print(f"hello size={comm.Get_size()} sum={total}", flush=True)
