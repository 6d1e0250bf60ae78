// Package ldcache reads and writes glibc's /etc/ld.so.cache.
//
// # File formats
//
// glibc has used three layouts, and [Parse] accepts all of them:
//
//   - old ("ld.so-1.7.0"): a 16-byte header (magic, padding, entry count),
//     12-byte entries {flags, key, value}, then the strings; string offsets
//     count from the end of the entry array.
//   - new ("glibc-ld.so.cache1.1"): a 48-byte header (magic, version, entry
//     count, string table length, endianness flags, extension offset), then
//     24-byte entries {flags, key, value, osversion, hwcap}; string offsets
//     count from the start of this header.
//   - compat: an old cache whose string area starts, 8-byte aligned, with a
//     complete new cache. glibc up to 2.31 wrote this by default (Debian 11),
//     2.32 and later write the new format alone. The new part wins.
//
// Since glibc 2.33 an extension directory follows the strings: a generator
// string ("ldconfig (GNU libc) …") and the sorted list of glibc-hwcaps
// subdirectory names that entries with hwcap bit 62 set index into.
//
// [Cache.Marshal] writes the new format with that extension, in the byte
// order of the running machine, as ldconfig 2.33+ does. Every glibc since
// 2.2 reads it; older dynamic loaders ignore the extension.
//
// # Order
//
// ld.so binary-searches the entries by key with _dl_cache_libcmp (see
// [LibCmp]): runs of digits compare as numbers and sort after non-digits.
// The array is sorted in descending LibCmp order, then by flags
// (descending), glibc-hwcaps entries before plain ones, then by legacy
// hwcap bits. Entries that compare equal keep their insertion order, and
// ld.so takes the first acceptable one: that is how a directory listed
// earlier in ld.so.conf wins, and how [Merge] lets injected libraries
// override an image's own copies.
package ldcache
