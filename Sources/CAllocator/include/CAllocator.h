#ifndef AVIARY_CALLOCATOR_H
#define AVIARY_CALLOCATOR_H

/// glibc's allocator knobs (malloc.h is not in Swift's Glibc module).
/// Both are no-ops (returning 0) where the C library is not glibc.
int aviary_limit_arenas(int arenas);
int aviary_trim(void);
/// Setting the threshold turns off glibc's dynamic one, which otherwise rises
/// to the size of the largest block freed (up to 32 MiB) and then serves such
/// blocks from the heap, where they fragment it.
int aviary_fix_mmap_threshold(int bytes);

#endif
