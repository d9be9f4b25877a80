// C++ helper for the algorithm ABI (algo.h): implement one class, export the ABI with
// one macro. Header-only, standard library only.
//
//   class MyAlgo {
//    public:
//     static const char* describe();                        // the describe() JSON
//     explicit MyAlgo(const std::string& config_json);      // throw jizhan::Error on bad config
//     std::string process(const jz_frame* frames, size_t n, const std::string& args_json);
//     void update_config(const std::string& config_json);   // optional: omit for NOT_IMPLEMENTED
//   };
//   JZ_ALGO_EXPORT_CLASS(MyAlgo)
//
// Exceptions become statuses: jizhan::Error carries its own; std::invalid_argument is
// INVALID_ARGUMENT; anything else FAILED. The message is what jz_algo_last_error returns.
#pragma once

#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "jizhan/algo.h"

namespace jizhan {

class Error : public std::runtime_error {
 public:
  Error(jz_algo_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  jz_algo_status status() const { return status_; }

 private:
  jz_algo_status status_;
};

namespace detail {

template <typename T, typename = void>
struct has_update_config : std::false_type {};
template <typename T>
struct has_update_config<
    T, std::void_t<decltype(std::declval<T&>().update_config(std::declval<const std::string&>()))>>
    : std::true_type {};

// What jz_algo points to: the author's object, its last result and last error.
template <typename T>
struct Instance {
  std::unique_ptr<T> impl;
  std::string result;
  std::string error;
};

template <typename T, typename F>
int guarded(Instance<T>* inst, F&& f) {
  try {
    inst->error.clear();
    f();
    return JZ_ALGO_OK;
  } catch (const Error& e) {
    inst->error = e.what();
    return e.status();
  } catch (const std::invalid_argument& e) {
    inst->error = e.what();
    return JZ_ALGO_INVALID_ARGUMENT;
  } catch (const std::exception& e) {
    inst->error = e.what();
    return JZ_ALGO_FAILED;
  } catch (...) {
    inst->error = "unknown exception";
    return JZ_ALGO_FAILED;
  }
}

// update_config when the class has one; NOT_IMPLEMENTED otherwise (a template, so the
// missing member is never named).
template <typename T>
int update_config(Instance<T>* inst, const char* config_json) {
  if constexpr (has_update_config<T>::value) {
    return guarded<T>(
        inst, [&] { inst->impl->update_config(std::string(config_json ? config_json : "{}")); });
  } else {
    (void)config_json;
    inst->error = "this algorithm cannot change its configuration";
    return JZ_ALGO_NOT_IMPLEMENTED;
  }
}

}  // namespace detail
}  // namespace jizhan

#define JZ_ALGO_EXPORT_CLASS(T)                                                               \
  struct jz_algo : jizhan::detail::Instance<T> {};                                            \
  extern "C" {                                                                                \
  JZ_ALGO_EXPORT int jz_algo_abi_version(void) { return JZ_ALGO_ABI_VERSION; }                \
  JZ_ALGO_EXPORT const char* jz_algo_describe(void) { return T::describe(); }                 \
  JZ_ALGO_EXPORT int jz_algo_create(const char* config_json, jz_algo** out) {                 \
    if (!out) return JZ_ALGO_INVALID_ARGUMENT;                                                \
    *out = nullptr;                                                                           \
    jz_algo* inst = new (std::nothrow) jz_algo();                                             \
    if (!inst) return JZ_ALGO_FAILED;                                                         \
    *out = inst;                                                                              \
    return jizhan::detail::guarded<T>(inst, [&] {                                             \
      inst->impl = std::make_unique<T>(std::string(config_json ? config_json : "{}"));        \
    });                                                                                       \
  }                                                                                           \
  JZ_ALGO_EXPORT int jz_algo_process(jz_algo* algo, const jz_frame* frames, size_t n,         \
                                     const char* args_json, const char** result_json) {       \
    if (!algo || !result_json) return JZ_ALGO_INVALID_ARGUMENT;                               \
    *result_json = nullptr;                                                                   \
    if (!algo->impl) {                                                                        \
      algo->error = "the instance was not created";                                           \
      return JZ_ALGO_INVALID_ARGUMENT;                                                        \
    }                                                                                         \
    if (!frames || n == 0) {                                                                  \
      algo->error = "no frames";                                                              \
      return JZ_ALGO_INVALID_ARGUMENT;                                                        \
    }                                                                                         \
    int s = jizhan::detail::guarded<T>(algo, [&] {                                            \
      algo->result = algo->impl->process(frames, n, std::string(args_json ? args_json : "")); \
    });                                                                                       \
    if (s == JZ_ALGO_OK) *result_json = algo->result.c_str();                                 \
    return s;                                                                                 \
  }                                                                                           \
  JZ_ALGO_EXPORT int jz_algo_update_config(jz_algo* algo, const char* config_json) {          \
    if (!algo || !algo->impl) return JZ_ALGO_INVALID_ARGUMENT;                                \
    return jizhan::detail::update_config<T>(algo, config_json);                               \
  }                                                                                           \
  JZ_ALGO_EXPORT const char* jz_algo_last_error(jz_algo* algo) {                              \
    return algo ? algo->error.c_str() : "no instance";                                        \
  }                                                                                           \
  JZ_ALGO_EXPORT void jz_algo_destroy(jz_algo* algo) { delete algo; }                         \
  }
