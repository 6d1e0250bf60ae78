package elfdeps

import (
	"debug/elf"
	"runtime"

	"github.com/mpiwrap/mpiwrap/hostlib/ldcache"
)

// CacheFlags returns the ld.so.cache flags ldconfig assigns to an object
// (glibc's sysdeps/unix/sysv/linux/*/readelflib.c): the 64-bit ABIs and
// the hard-float ones are always libc6 with an architecture bit; other
// objects are libc6 only when they need libc.so.6. eflags is e_flags.
func CacheFlags(class elf.Class, m elf.Machine, eflags uint32, needsLibc bool) int32 {
	const libc6 = ldcache.FlagELFLibc6
	is64 := class == elf.ELFCLASS64
	switch {
	case m == elf.EM_X86_64 && is64:
		return ldcache.FlagX8664Lib64 | libc6
	case m == elf.EM_X86_64:
		return ldcache.FlagX8664LibX32 | libc6
	case m == elf.EM_AARCH64 && is64:
		return ldcache.FlagAArch64Lib64 | libc6
	case m == elf.EM_PPC64:
		return ldcache.FlagPowerPCLib64 | libc6
	case m == elf.EM_S390 && is64:
		return ldcache.FlagS390Lib64 | libc6
	case m == elf.EM_RISCV:
		return riscvFlags(eflags)
	case m == elf.EM_LOONGARCH:
		return ldcache.FlagLArchFloatABIDouble | libc6
	case m == elf.EM_ARM:
		if eflags&0x400 != 0 { // EF_ARM_ABI_FLOAT_HARD
			return ldcache.FlagARMLibHF | libc6
		}
		return ldcache.FlagARMLibSF | libc6
	case needsLibc:
		return libc6
	}
	return ldcache.FlagELF
}

func riscvFlags(eflags uint32) int32 {
	const floatABIMask, double = 0x6, 0x4 // EF_RISCV_FLOAT_ABI, _DOUBLE
	if eflags&floatABIMask == double {
		return ldcache.FlagRISCVFloatABIDouble | ldcache.FlagELFLibc6
	}
	return ldcache.FlagRISCVFloatABISoft | ldcache.FlagELFLibc6
}

// NativeCacheFlags returns the flags of libraries for the architecture
// this program runs on, the flags ld.so accepts (_DL_CACHE_DEFAULT_ID).
func NativeCacheFlags() int32 {
	switch runtime.GOARCH {
	case "amd64":
		return ldcache.FlagsX8664Libc6
	case "arm64":
		return ldcache.FlagsAArch64Libc6
	case "ppc64le", "ppc64":
		return ldcache.FlagPowerPCLib64 | ldcache.FlagELFLibc6
	case "s390x":
		return ldcache.FlagS390Lib64 | ldcache.FlagELFLibc6
	case "riscv64":
		return ldcache.FlagRISCVFloatABIDouble | ldcache.FlagELFLibc6
	case "loong64":
		return ldcache.FlagLArchFloatABIDouble | ldcache.FlagELFLibc6
	}
	return ldcache.FlagELFLibc6
}
