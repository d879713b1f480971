/*
 * CRC-32C (Castagnoli) for Sluice's hot path: every record batch that enters the engine is checked.
 *
 * On x86-64 with SSE4.2 the CRC32 instruction runs three independent streams at once: one stream is bound by
 * the instruction's 3-cycle latency, three keep it busy every cycle. The three partial CRCs are joined with
 * "shift by n zero bytes" operators, precomputed once as byte tables (a CRC register is a linear function of
 * its input over GF(2), so shifting it past n zero bytes is a 32x32 bit matrix).
 *
 * The module exports `available` (false when the CPU lacks SSE4.2 or this is not x86-64: the TypeScript
 * wrapper then uses its fallback) and `crc32c(buf[, start, end])`.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SLUICE_X86 1
#include <nmmintrin.h>
#endif

#ifdef SLUICE_X86

/* Lane lengths of the three-stream loops: long lanes for big buffers, short ones for the rest. */
#define LONG_LANE 4096
#define SHORT_LANE 256

/* shift tables: [k][v] = the register after LANE zero bytes, for a register holding byte v at position k */
static uint32_t shift_long[4][256];
static uint32_t shift_short[4][256];

__attribute__((target("sse4.2"))) static uint32_t crc_serial(uint32_t crc, const uint8_t *p, size_t n) {
  while (n && ((uintptr_t)p & 7)) {
    crc = _mm_crc32_u8(crc, *p++);
    n--;
  }
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8;
    n -= 8;
  }
  crc = (uint32_t)c;
  while (n--) crc = _mm_crc32_u8(crc, *p++);
  return crc;
}

/* The register after `lane` zero bytes, for a register of value `reg` (no pre/post inversion). */
__attribute__((target("sse4.2"))) static uint32_t crc_zeros(uint32_t reg, size_t lane) {
  uint64_t c = reg;
  for (size_t i = 0; i < lane; i += 8) c = _mm_crc32_u64(c, 0);
  return (uint32_t)c;
}

static void build_shift_table(uint32_t table[4][256], size_t lane) {
  uint32_t column[32];
  for (int bit = 0; bit < 32; bit++) column[bit] = crc_zeros(1u << bit, lane);
  for (int k = 0; k < 4; k++) {
    for (int v = 0; v < 256; v++) {
      uint32_t r = 0;
      for (int b = 0; b < 8; b++)
        if (v & (1 << b)) r ^= column[8 * k + b];
      table[k][v] = r;
    }
  }
}

static inline uint32_t shift(const uint32_t table[4][256], uint32_t reg) {
  return table[0][reg & 0xff] ^ table[1][(reg >> 8) & 0xff] ^ table[2][(reg >> 16) & 0xff] ^ table[3][reg >> 24];
}

/* Three lanes of `lane` bytes each, consumed while at least 3 * lane bytes remain. */
__attribute__((target("sse4.2"))) static inline uint32_t crc_three_lanes(uint32_t crc, const uint8_t **pp, size_t *np, size_t lane,
                                                                       const uint32_t table[4][256]) {
  const uint8_t *p = *pp;
  size_t n = *np;
  while (n >= 3 * lane) {
    uint64_t a = crc, b = 0, c = 0;
    const uint8_t *pa = p, *pb = p + lane, *pc = p + 2 * lane;
    for (size_t i = 0; i < lane; i += 8) {
      uint64_t wa, wb, wc;
      memcpy(&wa, pa + i, 8);
      memcpy(&wb, pb + i, 8);
      memcpy(&wc, pc + i, 8);
      a = _mm_crc32_u64(a, wa);
      b = _mm_crc32_u64(b, wb);
      c = _mm_crc32_u64(c, wc);
    }
    crc = shift(table, shift(table, (uint32_t)a) ^ (uint32_t)b) ^ (uint32_t)c;
    p += 3 * lane;
    n -= 3 * lane;
  }
  *pp = p;
  *np = n;
  return crc;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(const uint8_t *p, size_t n) {
  uint32_t crc = ~0u;
  crc = crc_three_lanes(crc, &p, &n, LONG_LANE, (const uint32_t(*)[256])shift_long);
  crc = crc_three_lanes(crc, &p, &n, SHORT_LANE, (const uint32_t(*)[256])shift_short);
  crc = crc_serial(crc, p, n);
  return ~crc;
}

static int hw_ready = 0;

static void init_hw_once(void) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("sse4.2")) return;
  build_shift_table(shift_long, LONG_LANE);
  build_shift_table(shift_short, SHORT_LANE);
  hw_ready = 1;
}

/* Every thread that loads the addon (each worker) runs init: the tables are built once, by the first. */
static void init_hw(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, init_hw_once);
}

#else
static const int hw_ready = 0;
static void init_hw(void) {}
static uint32_t crc32c_hw(const uint8_t *p, size_t n) {
  (void)p;
  (void)n;
  return 0;
}
#endif

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

/* An optional index argument: undefined (or absent) gives `fallback`; otherwise an integer in [min, max]. */
static bool get_index(napi_env env, size_t argc, napi_value *argv, size_t i, size_t fallback, size_t min, size_t max, size_t *out) {
  *out = fallback;
  if (i >= argc) return true;
  napi_valuetype t;
  if (napi_typeof(env, argv[i], &t) != napi_ok) return false;
  if (t == napi_undefined) return true;
  double v;
  if (t != napi_number || napi_get_value_double(env, argv[i], &v) != napi_ok) return false;
  if (!(v >= (double)min && v <= (double)max) || v != (double)(size_t)v) return false;
  *out = (size_t)v;
  return true;
}

/* crc32c(bytes: Uint8Array, start?: number, end?: number): number (unsigned) */
static napi_value js_crc32c(napi_env env, napi_callback_info info) {
  if (!hw_ready) {
    napi_throw_error(env, NULL, "crc32c: this CPU has no SSE4.2 CRC32 instruction (check `available` first)");
    return NULL;
  }
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return throw_type(env, "crc32c needs a Uint8Array");
  bool is_ta = false;
  napi_is_typedarray(env, argv[0], &is_ta);
  if (!is_ta) return throw_type(env, "crc32c needs a Uint8Array");
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_uint8_array)
    return throw_type(env, "crc32c needs a Uint8Array");
  size_t start, end;
  if (!get_index(env, argc, argv, 1, 0, 0, length, &start)) return throw_type(env, "crc32c: start must be an integer within the array");
  if (!get_index(env, argc, argv, 2, length, start, length, &end)) return throw_type(env, "crc32c: end must be an integer from start to the array's length");
  /* a detached buffer reports no data and length 0 */
  uint32_t crc = end > start ? crc32c_hw((const uint8_t *)data + start, end - start) : 0;
  napi_value out;
  if (napi_create_uint32(env, crc, &out) != napi_ok) return NULL;
  return out;
}

/* mapping.c */
void sluice_register_mapping(napi_env env, napi_value exports);

static napi_value init(napi_env env, napi_value exports) {
  init_hw();
  sluice_register_mapping(env, exports);
  napi_value available, fn;
  napi_get_boolean(env, hw_ready != 0, &available);
  napi_set_named_property(env, exports, "available", available);
  napi_create_function(env, "crc32c", NAPI_AUTO_LENGTH, js_crc32c, NULL, &fn);
  napi_set_named_property(env, exports, "crc32c", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
