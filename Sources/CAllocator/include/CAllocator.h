#ifndef AVIARY_CALLOCATOR_H
#define AVIARY_CALLOCATOR_H

/// glibc's allocator knobs (malloc.h is not in Swift's Glibc module).
/// Both are no-ops (returning 0) where the C library is not glibc.
int aviary_limit_arenas(int arenas);
int aviary_trim(void);

#endif
