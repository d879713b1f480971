/*
 * Releasing a file mapping at once. A mapping made by @riaskov/mmap-io is unmapped only when V8 collects its
 * Buffer, and until then it pins the file: an unlinked segment's blocks stay allocated (minutes on a quiet
 * broker). `releaseMapping` replaces the mapping's pages in place with anonymous zero pages (mmap MAP_FIXED:
 * atomic, the address range stays valid), which drops the file's last reference now. A slice still held
 * somewhere reads zeros instead of faulting, and the addon's finalizer later unmaps the anonymous range.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static napi_value js_release_mapping(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, NULL, "releaseMapping needs a Buffer");
    return NULL;
  }
  bool is_buffer = false;
  napi_is_buffer(env, argv[0], &is_buffer);
  void *data = NULL;
  size_t length = 0;
  if (!is_buffer || napi_get_buffer_info(env, argv[0], &data, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "releaseMapping needs a Buffer");
    return NULL;
  }
  if (length == 0 || data == NULL) return NULL;
  long page = sysconf(_SC_PAGESIZE);
  if (page <= 0 || ((uintptr_t)data % (uintptr_t)page) != 0) {
    napi_throw_type_error(env, NULL, "releaseMapping: the Buffer does not start a mapping");
    return NULL;
  }
  size_t span = (length + (size_t)page - 1) / (size_t)page * (size_t)page;
  void *r = mmap(data, span, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (r == MAP_FAILED) {
    char msg[96];
    snprintf(msg, sizeof msg, "releaseMapping: mmap failed: %s", strerror(errno));
    napi_throw_error(env, NULL, msg);
  }
  return NULL;
}

void sluice_register_mapping(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "releaseMapping", NAPI_AUTO_LENGTH, js_release_mapping, NULL, &fn);
  napi_set_named_property(env, exports, "releaseMapping", fn);
}
