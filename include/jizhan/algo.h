/* The Jizhan algorithm ABI: how a vision algorithm (a shared library) is called by the
 * platform, the local host and the conformance checker. Plain C, versioned.
 *
 * Lifecycle: jz_algo_describe() -> jz_algo_create(config) -> jz_algo_process(...)* ->
 * [jz_algo_update_config(...)] -> jz_algo_destroy().
 *
 * Contract:
 *  - One instance is used by one thread at a time; many instances may run in parallel on
 *    different threads. jz_algo_describe() and jz_algo_abi_version() are thread-safe.
 *  - An algorithm may hold several models; they are listed by jz_algo_describe().
 *  - Strings are UTF-8, NUL-terminated. JSON in, JSON out.
 *  - The result of jz_algo_process() belongs to the instance and stays valid until the
 *    next call on that instance (process, update_config or destroy). No global buffers.
 *  - Every function but jz_algo_destroy returns a jz_algo_status; on an error,
 *    jz_algo_last_error(instance) says what was wrong in one line.
 *  - When jz_algo_create fails it may still set *out to an instance that only carries the
 *    error: read jz_algo_last_error(*out), then jz_algo_destroy(*out). *out may be NULL.
 *  - Functions never throw (C++ exceptions must not cross this boundary) and never exit
 *    the process. Output follows docs/ALGORITHM_SDK.md: {"algorithm_data": {...},
 *    "model_data": {...}}.
 */
#ifndef JIZHAN_ALGO_H_
#define JIZHAN_ALGO_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JZ_ALGO_ABI_VERSION 1

#if defined(__GNUC__)
#define JZ_ALGO_EXPORT __attribute__((visibility("default")))
#else
#define JZ_ALGO_EXPORT
#endif

typedef enum jz_algo_status {
  JZ_ALGO_OK = 0,
  JZ_ALGO_FAILED = 1,
  JZ_ALGO_NOT_IMPLEMENTED = 2,
  JZ_ALGO_INVALID_ARGUMENT = 3,
  JZ_ALGO_UNAUTHORIZED = 4,
  JZ_ALGO_OVER_QUOTA = 5,
  JZ_ALGO_TIMEOUT = 6
} jz_algo_status;

typedef enum jz_pixel_format {
  JZ_PIXEL_BGR24 = 1, /* 3 bytes per pixel, B G R */
  JZ_PIXEL_RGB24 = 2, /* 3 bytes per pixel, R G B */
  JZ_PIXEL_GRAY8 = 3, /* 1 byte per pixel */
  JZ_PIXEL_NV12 = 4   /* Y plane (stride x height), then interleaved UV (stride x height/2) */
} jz_pixel_format;

/* One video frame or image. The pixels belong to the caller and stay valid for the call. */
typedef struct jz_frame {
  uint32_t struct_size;  /* sizeof(jz_frame) as the caller knows it (forward compatibility) */
  int32_t width, height; /* pixels */
  int32_t stride;        /* bytes per row of the first plane (>= width x bytes per pixel) */
  int32_t format;        /* a jz_pixel_format */
  const uint8_t* data;   /* the first plane; NV12's UV plane follows at data + stride * height */
  int64_t timestamp_us;  /* presentation time, microseconds; 0 when unknown */
  int64_t frame_index;   /* position in its source, from 0 */
  const char* source_id; /* the camera or file it came from; may be NULL */
} jz_frame;

typedef struct jz_algo jz_algo;

/* JZ_ALGO_ABI_VERSION as the library was built. */
JZ_ALGO_EXPORT int jz_algo_abi_version(void);
/* JSON: name, version, abi_version, models, inputs (pixel formats, frames per call),
 * config_schema (a JSON Schema with defaults), output_schema. Static storage. */
JZ_ALGO_EXPORT const char* jz_algo_describe(void);
/* Creates an instance; config_json may be NULL or "{}" for the defaults. */
JZ_ALGO_EXPORT int jz_algo_create(const char* config_json, jz_algo** out);
/* Processes n frames (n >= 1; algorithms taking one frame return INVALID_ARGUMENT for
 * more). args_json (may be NULL) overrides the config for this call only. On success
 * *result_json is the output JSON, owned by the instance. */
JZ_ALGO_EXPORT int jz_algo_process(jz_algo* algo, const jz_frame* frames, size_t n,
                                   const char* args_json, const char** result_json);
/* Replaces the configuration; on an error the old one stays. */
JZ_ALGO_EXPORT int jz_algo_update_config(jz_algo* algo, const char* config_json);
/* The last error of this instance, "" when none. Owned by the instance. */
JZ_ALGO_EXPORT const char* jz_algo_last_error(jz_algo* algo);
/* Frees the instance; NULL is allowed. */
JZ_ALGO_EXPORT void jz_algo_destroy(jz_algo* algo);

#ifdef __cplusplus
}
#endif

#endif /* JIZHAN_ALGO_H_ */
