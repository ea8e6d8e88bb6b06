/*
 * slab.c: the loop's memory for futures and tasks.
 *
 * Spawning a million tasks through malloc spends more time in the kernel's
 * page faults than in weft: the blocks come from 2 MiB chunks instead, each
 * after the first faulted in by one MADV_POPULATE_WRITE, carved by bumping a
 * pointer and recycled through one LIFO free list per 16-byte size class.
 * (MADV_HUGEPAGE was tried: where the kernel compacts memory synchronously
 * for it, a spawn burst stalled for up to a second.)  Owner thread only;
 * after close the blocks are no longer recycled (other threads may free
 * survivors) and go with the loop.  A chunk whose blocks are all free again
 * is unmapped once a quarter of the chunks are, so a burst does not keep its
 * memory for ever; but only when the loop is about to wait (weft__slab_trim
 * from the prepare phase), never while a burst is still freeing: unmapping
 * then would fault the same memory in again for the next burst.
 */
#include "weft-internal.h"

#include <sys/mman.h>

/* A 2 MiB-aligned mapping: map twice the size and trim both ends. */
static weft__chunk *weft__chunk_map(bool populate) {
  size_t span = 2 * (size_t)WEFT__CHUNK;
  char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED)
    return NULL;
  char *start = (char *)(((uintptr_t)raw + WEFT__CHUNK - 1) & ~(uintptr_t)(WEFT__CHUNK - 1));
  if (start > raw)
    munmap(raw, (size_t)(start - raw));
  size_t tail = (size_t)(raw + span - (start + WEFT__CHUNK));
  if (tail > 0)
    munmap(start + WEFT__CHUNK, tail);
#ifdef MADV_POPULATE_WRITE
  /* One system call faults the whole chunk in instead of 512 traps (the
   * kernel ignores it where unsupported, and then the traps happen). */
  if (populate)
    madvise(start, WEFT__CHUNK, MADV_POPULATE_WRITE);
#else
  (void)populate;
#endif
  return (weft__chunk *)start;
}

/* Its free list is empty (weft__slab_alloc took the block otherwise). */
void *weft__slab_alloc_slow(weft_loop_t *loop, size_t size, uint8_t *sclass) {
  size_t c = weft__slab_class(size);
  if (c >= WEFT__SLAB_CLASSES) {
    *sclass = 0;
    return malloc(size);
  }
  weft__slab *s = &loop->slab;
  size_t bytes = (size_t)c * WEFT__SLAB_STEP;
  if (s->cur == NULL || (size_t)(s->end - s->cur) < bytes) {
    /* The first chunk faults in lazily (a small loop stays small); later
     * ones serve a burst, so they come in at once. */
    weft__chunk *ch = weft__chunk_map(s->nchunks > 0);
    if (ch == NULL)
      return NULL;
    ch->next = s->chunks;
    ch->live = 0;
    s->chunks = ch;
    s->nchunks++;
    s->empty++;
    s->cur = (char *)ch + ((sizeof *ch + 63) & ~(size_t)63);
    s->end = (char *)ch + WEFT__CHUNK;
  }
  void *p = s->cur;
  s->cur += bytes;
  if (weft__chunk_of(p)->live++ == 0)
    s->empty--;
  *sclass = (uint8_t)c;
  return p;
}

/* Unmaps the chunks whose blocks are all free (but the one being carved):
 * their blocks leave the free lists first. */
static void weft__slab_sweep(weft__slab *s) {
  weft__chunk *carving = s->cur != NULL ? weft__chunk_of(s->cur - 1) : NULL;
  for (unsigned c = 1; c < WEFT__SLAB_CLASSES; c++) {
    void *prev = NULL;
    for (void *p = s->free[c], *next; p != NULL; p = next) {
      WEFT__UNPOISON(p, sizeof(void *));
      next = *(void **)p;
      weft__chunk *ch = weft__chunk_of(p);
      if (ch->live == 0 && ch != carving) {
        if (prev == NULL) {
          s->free[c] = next;
        } else {
          WEFT__UNPOISON(prev, sizeof(void *));
          *(void **)prev = next;
          WEFT__POISON(prev, sizeof(void *));
        }
      } else {
        WEFT__POISON(p, sizeof(void *));
        prev = p;
      }
    }
  }
  for (weft__chunk **link = &s->chunks; *link != NULL;) {
    weft__chunk *ch = *link;
    if (ch->live == 0 && ch != carving) {
      *link = ch->next;
      s->nchunks--;
      s->empty--;
      WEFT__UNPOISON(ch, WEFT__CHUNK);
      munmap(ch, WEFT__CHUNK);
    } else {
      link = &ch->next;
    }
  }
}

void weft__slab_free_slow(weft_loop_t *loop, void *p, uint8_t sclass) {
  (void)loop; /* a slab block after close: the memory goes with the loop */
  if (sclass == 0)
    free(p);
}

void weft__slab_trim(weft_loop_t *loop) {
  weft__slab *s = &loop->slab;
  if (s->empty >= 2 && s->empty * 4 >= s->nchunks)
    weft__slab_sweep(s);
}

void weft__slab_destroy(weft__slab *s) {
  while (s->chunks != NULL) {
    weft__chunk *ch = s->chunks;
    s->chunks = ch->next;
    WEFT__UNPOISON(ch, WEFT__CHUNK);
    munmap(ch, WEFT__CHUNK);
  }
  memset(s, 0, sizeof *s);
}
