/* gguf_write.h - GGUF v3 writer, streaming.
 *
 * Build the header in memory (metadata copied from a parsed tf_gguf plus
 * overrides, then the tensor infos, whose offsets the writer assigns), then
 * stream the data section tensor by tensor.  Output goes to PATH.tmp and is
 * renamed to PATH only when every byte has been written, flushed and
 * synced; any failure (or freeing the writer before tf_gguf_writer_close)
 * removes PATH.tmp, so a half-written PATH never exists.
 *
 * Layout written: "GGUF", version 3, tensor count, key count, the keys in
 * order, the tensor infos in the order added, zero padding to the
 * alignment, then each tensor's bytes followed by zero padding to the
 * alignment (the reference writer pads after the last tensor too).  The
 * alignment is general.alignment when it is set (a power of two up to
 * 1 MiB), else 32.
 *
 * Every function returns 0 on success and -1 on failure with the reason in
 * tf_gguf_writer_error() and a status in tf_gguf_writer_status().
 */
#ifndef TF_GGUF_WRITE_H
#define TF_GGUF_WRITE_H

#include <stdio.h>
#include "internal.h"

typedef struct tf_gguf_writer tf_gguf_writer;

tf_gguf_writer *tf_gguf_writer_new(void);
/* NULL-safe.  Removes PATH.tmp unless tf_gguf_writer_close succeeded. */
void tf_gguf_writer_free(tf_gguf_writer *w);
const char *tf_gguf_writer_error(const tf_gguf_writer *w);
tf_status tf_gguf_writer_status(const tf_gguf_writer *w);

/* ---- metadata (before open) ----------------------------------------- */

/* Append every key of src, in its order. */
int tf_gguf_writer_copy_kvs(tf_gguf_writer *w, const tf_gguf *src);
/* Setting a key that exists removes it and appends the new value at the
 * end (the reference writer's order, so copied files compare equal). */
int tf_gguf_writer_set_kv(tf_gguf_writer *w, const tf_gguf_kv *kv);
int tf_gguf_writer_set_u32(tf_gguf_writer *w, const char *key, uint32_t v);
int tf_gguf_writer_set_str(tf_gguf_writer *w, const char *key, const char *v);
/* Removing an absent key is not an error. */
int tf_gguf_writer_remove(tf_gguf_writer *w, const char *key);
uint64_t tf_gguf_writer_n_kv(const tf_gguf_writer *w);

/* ---- tensors (before open) ------------------------------------------ */

/* ne[0] must be a whole number of type's blocks; unused dims are 1. */
int tf_gguf_writer_add_tensor(tf_gguf_writer *w, const char *name, size_t name_len,
                              uint32_t n_dims, const int64_t ne[4], uint32_t type);
uint64_t tf_gguf_writer_n_tensors(const tf_gguf_writer *w);
/* Bytes of tensor i's data (without padding). */
uint64_t tf_gguf_writer_tensor_bytes(const tf_gguf_writer *w, uint64_t i);
/* Bytes of the whole file once written. */
uint64_t tf_gguf_writer_file_bytes(tf_gguf_writer *w);

/* ---- output ---------------------------------------------------------- */

/* Create PATH.tmp and write the header. */
int tf_gguf_writer_open(tf_gguf_writer *w, const char *path);
/* Write the header to a stream the caller owns (no temp file, no rename;
 * close then only flushes). */
int tf_gguf_writer_open_stream(tf_gguf_writer *w, FILE *f);
/* The next n bytes of the data section: tensors in the order added, each
 * one's bytes may come in any number of pieces; padding is inserted. */
int tf_gguf_writer_write(tf_gguf_writer *w, const void *p, size_t n);
/* Check that every tensor is complete, flush, fsync, rename PATH.tmp to
 * PATH. */
int tf_gguf_writer_close(tf_gguf_writer *w);

#endif
