package ldcache

import "fmt"

// On-disk constants from glibc's sysdeps/generic/dl-cache.h.
const (
	magicOld     = "ld.so-1.7.0"
	magicNew     = "glibc-ld.so.cache"
	versionNew   = "1.1"
	oldHeaderLen = 16 // magic[11], 1 byte padding, uint32 nlibs
	oldEntryLen  = 12 // int32 flags, uint32 key, uint32 value
	newHeaderLen = 48
	newEntryLen  = 24 // int32 flags, uint32 key, value, osversion; uint64 hwcap

	extensionMagic   = 0xEAA42174 // (uint32_t) -358342284
	extSectionLen    = 16         // uint32 tag, flags, offset, size
	tagGenerator     = 0
	tagGlibcHwcaps   = 1
	endianUnset      = 0
	endianLittle     = 2
	endianBig        = 3
	endianMask       = 3
	hwcapExtension   = uint64(1) << 62
	isaLevelMask     = (1 << 10) - 1
	maxCacheFileSize = 1 << 30 // refuse absurd inputs before allocating
)

// Entry type bits (the low byte of Flags).
const (
	FlagLibc4    = 0x0000
	FlagELF      = 0x0001
	FlagELFLibc5 = 0x0002
	FlagELFLibc6 = 0x0003
	FlagTypeMask = 0x00ff
)

// Architecture bits (the second byte of Flags).
const (
	FlagSparcLib64          = 0x0100
	FlagIA64Lib64           = 0x0200
	FlagX8664Lib64          = 0x0300
	FlagS390Lib64           = 0x0400
	FlagPowerPCLib64        = 0x0500
	FlagMIPS64LibN32        = 0x0600
	FlagMIPS64LibN64        = 0x0700
	FlagX8664LibX32         = 0x0800
	FlagARMLibHF            = 0x0900
	FlagAArch64Lib64        = 0x0a00
	FlagARMLibSF            = 0x0b00
	FlagMIPSLib32NaN2008    = 0x0c00
	FlagMIPS64LibN32NaN2008 = 0x0d00
	FlagMIPS64LibN64NaN2008 = 0x0e00
	FlagRISCVFloatABISoft   = 0x0f00
	FlagRISCVFloatABIDouble = 0x1000
	FlagLArchFloatABISoft   = 0x1100
	FlagLArchFloatABIDouble = 0x1200
	FlagRequiredMask        = 0xff00
	FlagsX8664Libc6         = FlagX8664Lib64 | FlagELFLibc6
	FlagsAArch64Libc6       = FlagAArch64Lib64 | FlagELFLibc6
	flagArchNone            = 0
)

// DefaultGenerator is written into the extension of caches made by Marshal
// when Cache.Generator is empty.
const DefaultGenerator = "mpiwrap hostlib"

// Format says which layout a cache file used.
type Format int

// Layouts accepted by Parse.
const (
	FormatNew    Format = iota // "glibc-ld.so.cache1.1" alone
	FormatOld                  // "ld.so-1.7.0" alone
	FormatCompat               // old header with a new cache inside
)

func (f Format) String() string {
	switch f {
	case FormatNew:
		return "new"
	case FormatOld:
		return "old"
	case FormatCompat:
		return "compat"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// MarshalText makes Format readable in JSON.
func (f Format) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// Entry is one library in the cache.
type Entry struct {
	// Key is the name ld.so looks up: a soname such as "libc.so.6".
	Key string `json:"key"`
	// Value is the path ld.so opens for Key.
	Value string `json:"value"`
	// Flags holds the ELF type and architecture bits (0x0303 for x86-64).
	Flags int32 `json:"flags"`
	// OSVersion is the minimum kernel from the ABI note; glibc >= 2.33
	// writes 0 and ignores it.
	OSVersion uint32 `json:"osversion,omitempty"`
	// HWCap is the raw hwcap word. For glibc-hwcaps entries (bit 62) the
	// low 32 bits index the subdirectory list; the writer recomputes them.
	HWCap uint64 `json:"hwcap,omitempty"`
	// HWCapsSubdir names the glibc-hwcaps subdirectory ("x86-64-v3") of
	// an extension entry, empty otherwise.
	HWCapsSubdir string `json:"hwcaps_subdir,omitempty"`
}

// IsHWCapsExtension reports whether e lives in a glibc-hwcaps
// subdirectory: only bit 62 set in the upper word, ignoring ISA bits.
func (e Entry) IsHWCapsExtension() bool {
	return (e.HWCap>>32)&^isaLevelMask == hwcapExtension>>32
}

// Cache is a parsed ld.so.cache.
type Cache struct {
	// Format is the layout the file had; Marshal always writes FormatNew.
	Format Format `json:"format"`
	// Entries are in file order, which is ld.so's search order.
	Entries []Entry `json:"entries"`
	// Generator is the extension's generator string, if any.
	Generator string `json:"generator,omitempty"`
}

// FlagsString renders flags the way `ldconfig -p` does ("libc6,x86-64").
func FlagsString(flags int32) string {
	types := [...]string{"libc4", "ELF", "libc5", "libc6"}
	s := "unknown"
	if t := flags & FlagTypeMask; t <= FlagELFLibc6 {
		s = types[t]
	}
	switch arch := flags & FlagRequiredMask; arch {
	case flagArchNone:
	default:
		if name, ok := archNames[arch]; ok {
			s += "," + name
		} else {
			s += fmt.Sprintf(",%d", arch)
		}
	}
	return s
}

var archNames = map[int32]string{
	FlagSparcLib64:          "64bit",
	FlagIA64Lib64:           "IA-64",
	FlagX8664Lib64:          "x86-64",
	FlagS390Lib64:           "64bit",
	FlagPowerPCLib64:        "64bit",
	FlagMIPS64LibN32:        "N32",
	FlagMIPS64LibN64:        "64bit",
	FlagX8664LibX32:         "x32",
	FlagARMLibHF:            "hard-float",
	FlagAArch64Lib64:        "AArch64",
	FlagARMLibSF:            "soft-float",
	FlagMIPSLib32NaN2008:    "nan2008",
	FlagMIPS64LibN32NaN2008: "N32,nan2008",
	FlagMIPS64LibN64NaN2008: "64bit,nan2008",
	FlagRISCVFloatABISoft:   "soft-float",
	FlagRISCVFloatABIDouble: "double-float",
}
