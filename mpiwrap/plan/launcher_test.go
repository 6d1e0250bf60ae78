package plan

import (
	"testing"
)

func TestDetectLauncher(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want Launcher
	}{
		{"hydra", []string{"PMI_RANK=3", "PMI_SIZE=8", "MPI_LOCALRANKID=1", "MPI_LOCALNRANKS=4", "PMI_PORT=h:1"},
			Launcher{Name: "hydra", Rank: 3, Size: 8, LocalRank: 1, LocalSize: 4, Step: "hydra:h:1"}},
		{"slurm", []string{"SLURM_PROCID=5", "SLURM_NTASKS=8", "SLURM_LOCALID=1", "SLURM_STEP_TASKS_PER_NODE=4(x2)", "SLURM_NODEID=1", "SLURM_JOB_ID=9", "SLURM_STEP_ID=0"},
			Launcher{Name: "slurm", Rank: 5, Size: 8, LocalRank: 1, LocalSize: 4, Step: "slurm:9.0"}},
		{"openmpi", []string{"OMPI_COMM_WORLD_RANK=2", "OMPI_COMM_WORLD_SIZE=4", "OMPI_COMM_WORLD_LOCAL_RANK=2", "OMPI_COMM_WORLD_LOCAL_SIZE=4", "PMIX_NAMESPACE=prterun-x@1", "PMIX_RANK=2"},
			Launcher{Name: "openmpi", Rank: 2, Size: 4, LocalRank: 2, LocalSize: 4, Step: "ompi:prterun-x@1"}},
		// hydra started by srun: the inner launcher wins.
		{"hydra in slurm", []string{"SLURM_PROCID=0", "SLURM_JOB_ID=9", "SLURM_STEP_ID=1", "PMI_RANK=1", "PMI_SIZE=2", "MPI_LOCALRANKID=1", "MPI_LOCALNRANKS=2", "PMI_PORT=h:2"},
			Launcher{Name: "hydra", Rank: 1, Size: 2, LocalRank: 1, LocalSize: 2, Step: "hydra:h:2"}},
		{"none", []string{"PATH=/bin"}, Launcher{Name: "none", Rank: -1, Size: -1, LocalRank: -1, LocalSize: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DetectLauncher(tt.env)
			got.Source = ""
			if got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestRankOf(t *testing.T) {
	for _, tt := range []struct {
		env        []string
		rank, size int
	}{
		{[]string{"PMI_RANK=3", "PMI_SIZE=8"}, 3, 8},
		{[]string{"SLURM_PROCID=5", "SLURM_NTASKS=6", "SLURM_JOB_ID=1", "SLURM_STEP_ID=0"}, 5, 6},
		{[]string{"PATH=/bin"}, -1, -1},
	} {
		if rank, size := RankOf(tt.env); rank != tt.rank || size != tt.size {
			t.Errorf("RankOf(%q) = %d, %d; want %d, %d", tt.env, rank, size, tt.rank, tt.size)
		}
	}
}
