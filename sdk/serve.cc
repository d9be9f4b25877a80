#include "sdk/serve.h"

#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "data/image.h"
#include "jizhan/algo/v1/algo.grpc.pb.h"
#include "sdk/signing.h"

namespace jz::sdk {
namespace {

namespace pb = jizhan::algo::v1;

bool loopback(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address.rfind("localhost:", 0) == 0 ||
         address.rfind("[::1]:", 0) == 0;
}

Result<std::pair<std::string, int>> split_address(const std::string& a, const char* flag) {
  const size_t colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::invalid_argument(std::string(flag) + " '" + a + "' must be HOST:PORT");
  }
  try {
    int port = std::stoi(a.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    std::string host = a.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    return std::pair{host, port};
  } catch (const std::exception&) {
    return Status::invalid_argument(std::string(flag) + " '" + a + "': the port must be 0-65535");
  }
}

grpc::StatusCode grpc_code(Code c) {
  switch (c) {
    case Code::kInvalidArgument:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case Code::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
    case Code::kDeadlineExceeded:
      return grpc::StatusCode::DEADLINE_EXCEEDED;
    case Code::kResourceExhausted:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case Code::kPermissionDenied:
      return grpc::StatusCode::PERMISSION_DENIED;
    case Code::kUnauthenticated:
      return grpc::StatusCode::UNAUTHENTICATED;
    case Code::kFailedPrecondition:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case Code::kNotFound:
      return grpc::StatusCode::NOT_FOUND;
    default:
      return grpc::StatusCode::INTERNAL;
  }
}

// A frame ready for the ABI, owning its pixels.
struct Decoded {
  cv::Mat mat;      // encoded input, decoded to BGR
  std::string raw;  // raw input
  jz_frame frame{};
};

Result<Decoded> decode_encoded(const std::string& bytes) {
  Decoded d;
  if (bytes.empty())
    return Status::invalid_argument("no image: send an encoded image (JPEG, PNG, ...)");
  auto mat = data::decode_image(bytes, cv::IMREAD_COLOR,
                                "the image (" + std::to_string(bytes.size()) + " bytes)");
  if (!mat.ok()) return mat.status();
  d.mat = std::move(*mat);
  d.frame.struct_size = sizeof d.frame;
  d.frame.width = d.mat.cols;
  d.frame.height = d.mat.rows;
  d.frame.stride = static_cast<int32_t>(d.mat.step[0]);
  d.frame.format = JZ_PIXEL_BGR24;
  d.frame.data = d.mat.data;
  return d;
}

Result<Decoded> decode_raw(const pb::RawFrame& r) {
  Decoded d;
  int bpp = 0;
  switch (r.format()) {
    case pb::BGR24:
      d.frame.format = JZ_PIXEL_BGR24;
      bpp = 3;
      break;
    case pb::RGB24:
      d.frame.format = JZ_PIXEL_RGB24;
      bpp = 3;
      break;
    case pb::GRAY8:
      d.frame.format = JZ_PIXEL_GRAY8;
      bpp = 1;
      break;
    case pb::NV12:
      d.frame.format = JZ_PIXEL_NV12;
      bpp = 1;
      break;
    default:
      return Status::invalid_argument("raw frame: set format to BGR24, RGB24, GRAY8 or NV12");
  }
  if (r.width() <= 0 || r.height() <= 0 || r.width() > 16384 || r.height() > 16384) {
    return Status::invalid_argument("raw frame: width and height must be 1 to 16384");
  }
  const int64_t stride = r.stride() == 0 ? int64_t{r.width()} * bpp : r.stride();
  if (stride < int64_t{r.width()} * bpp) {
    return Status::invalid_argument("raw frame: stride " + std::to_string(stride) +
                                    " is shorter than a row");
  }
  const int64_t rows =
      d.frame.format == JZ_PIXEL_NV12 ? r.height() + (r.height() + 1) / 2 : r.height();
  if (static_cast<int64_t>(r.pixels().size()) < stride * rows) {
    return Status::invalid_argument("raw frame: " + std::to_string(r.pixels().size()) +
                                    " bytes of pixels; " + std::to_string(stride * rows) +
                                    " needed for that size");
  }
  d.frame.struct_size = sizeof d.frame;
  d.frame.width = r.width();
  d.frame.height = r.height();
  d.frame.stride = static_cast<int32_t>(stride);
  d.frame.data =
      reinterpret_cast<const uint8_t*>(r.pixels().data());  // the request outlives the call
  return d;
}

}  // namespace

struct AlgoServer::Impl {
  ServeOptions options;
  Json description;
  std::vector<std::unique_ptr<IsolatedAlgo>> instances;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<IsolatedAlgo*> free;
  // the licence's rate, as a token bucket
  std::mutex rate_mu;
  double tokens = 0;
  std::atomic<int64_t> frames{0};  // calls that reached an instance
  std::chrono::steady_clock::time_point refilled = std::chrono::steady_clock::now();

  std::unique_ptr<grpc::Server> grpc_server;
  std::unique_ptr<grpc::Service> grpc_service;
  int grpc_port = 0;
  httplib::Server http;
  std::thread http_thread;
  int http_port = 0;

  Status admit() {
    if (options.qps <= 0) return {};
    std::lock_guard<std::mutex> lock(rate_mu);
    const auto now = std::chrono::steady_clock::now();
    const double burst = std::max(1.0, options.qps);
    tokens = std::min(burst,
                      tokens + std::chrono::duration<double>(now - refilled).count() * options.qps);
    refilled = now;
    if (tokens < 1) {
      return Status::resource_exhausted("over the licence's rate of " + Json(options.qps).dump() +
                                        " frames per second; slow down");
    }
    tokens -= 1;
    return {};
  }

  Result<std::string> process(const jz_frame& frame, const std::string& args) {
    JZ_RETURN_IF_ERROR(admit());
    if (!args.empty()) {
      Json a = Json::parse(args, nullptr, false);
      if (a.is_discarded() || !a.is_object()) {
        return Status::invalid_argument("args must be a JSON object");
      }
    }
    IsolatedAlgo* algo = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return !free.empty(); });
      algo = free.front();
      free.pop_front();
    }
    auto r = algo->process({frame}, args);
    frames.fetch_add(1);
    {
      std::lock_guard<std::mutex> lock(mu);
      free.push_back(algo);
    }
    cv.notify_one();
    return r;
  }

  bool authorised(const std::string& header) const {
    if (options.token.empty()) return true;
    const std::string want = "Bearer " + options.token;
    // constant-time comparison
    if (header.size() != want.size()) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < want.size(); ++i)
      diff |= static_cast<unsigned char>(header[i] ^ want[i]);
    return diff == 0;
  }
};

namespace {

class Service final : public pb::Algorithm::Service {
 public:
  explicit Service(AlgoServer::Impl* impl) : s_(impl) {}

  grpc::Status Describe(grpc::ServerContext* ctx, const pb::DescribeRequest*,
                        pb::DescribeResponse* out) override {
    if (auto denied = auth(ctx); !denied.ok()) return denied;
    out->set_description_json(s_->description.dump());
    out->set_manifest_json(s_->options.manifest_json);
    out->set_instances(static_cast<int32_t>(s_->instances.size()));
    return grpc::Status::OK;
  }

  grpc::Status Process(grpc::ServerContext* ctx, const pb::ProcessRequest* in,
                       pb::ProcessResponse* out) override {
    if (auto denied = auth(ctx); !denied.ok()) return denied;
    Status s = one(*in, out);
    if (!s.ok()) return grpc::Status(grpc_code(s.code()), s.message());
    return grpc::Status::OK;
  }

  grpc::Status ProcessStream(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<pb::ProcessResponse, pb::ProcessRequest>* stream) override {
    if (auto denied = auth(ctx); !denied.ok()) return denied;
    pb::ProcessRequest in;
    while (stream->Read(&in)) {
      pb::ProcessResponse out;
      Status s = one(in, &out);
      if (!s.ok()) {
        out.set_frame_index(in.frame_index());
        out.mutable_error()->set_code(std::string(code_name(s.code())));
        out.mutable_error()->set_message(s.message());
      }
      if (!stream->Write(out)) break;
    }
    return grpc::Status::OK;
  }

 private:
  grpc::Status auth(grpc::ServerContext* ctx) {
    auto md = ctx->client_metadata();
    auto it = md.find("authorization");
    const std::string header =
        it == md.end() ? "" : std::string(it->second.data(), it->second.size());
    if (s_->authorised(header)) return grpc::Status::OK;
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "send the metadata 'authorization: Bearer TOKEN' (the serve --token-file)");
  }

  Status one(const pb::ProcessRequest& in, pb::ProcessResponse* out) {
    const auto start = std::chrono::steady_clock::now();
    Result<Decoded> d = in.has_raw() ? decode_raw(in.raw()) : decode_encoded(in.encoded());
    if (!d.ok()) return d.status();
    d->frame.frame_index = in.frame_index();
    d->frame.timestamp_us = in.timestamp_us();
    d->frame.source_id = in.source_id().c_str();
    JZ_ASSIGN_OR_RETURN(std::string result, s_->process(d->frame, in.args_json()));
    out->set_result_json(std::move(result));
    out->set_frame_index(in.frame_index());
    out->set_latency_ms(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
    return {};
  }

  AlgoServer::Impl* s_;
};

void reply_error(httplib::Response& res, const Status& s) {
  res.status = http_status(s.code());
  res.set_content(
      Json{{"error", {{"code", std::string(code_name(s.code()))}, {"message", s.message()}}}}
          .dump(),
      "application/json");
}

}  // namespace

AlgoServer::AlgoServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AlgoServer::~AlgoServer() { shutdown(); }

int AlgoServer::grpc_port() const { return impl_->grpc_port; }
int AlgoServer::http_port() const { return impl_->http_port; }
const Json& AlgoServer::description() const { return impl_->description; }
int64_t AlgoServer::frames() const { return impl_->frames.load(); }

void AlgoServer::shutdown() {
  if (impl_->grpc_server) {
    impl_->grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    impl_->grpc_server.reset();
  }
  if (impl_->http_thread.joinable()) {
    impl_->http.stop();
    impl_->http_thread.join();
  }
}

Result<std::unique_ptr<AlgoServer>> AlgoServer::start(const ServeOptions& o) {
  if (o.grpc_address.empty() && o.http_address.empty()) {
    return Status::invalid_argument("give --grpc ADDR, --http ADDR or both");
  }
  if (o.instances < 1 || o.instances > 256) {
    return Status::invalid_argument("--instances must be 1 to 256");
  }
  for (const auto& a : {o.grpc_address, o.http_address}) {
    if (!a.empty() && !loopback(a) && o.token.empty()) {
      return Status::invalid_argument("serving on " + a +
                                      ", beyond this machine, needs a token (--token-file FILE); "
                                      "without one, listen on 127.0.0.1");
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->options = o;
  for (int i = 0; i < o.instances; ++i) {
    JZ_ASSIGN_OR_RETURN(auto algo, IsolatedAlgo::start(o.host));
    if (i == 0) impl->description = algo->description();
    impl->free.push_back(algo.get());
    impl->instances.push_back(std::move(algo));
  }
  Impl* s = impl.get();
  if (!o.grpc_address.empty()) {
    JZ_RETURN_IF_ERROR(split_address(o.grpc_address, "--grpc").status());
    impl->grpc_service = std::make_unique<Service>(s);
    grpc::ServerBuilder b;
    b.AddListeningPort(o.grpc_address, grpc::InsecureServerCredentials(), &impl->grpc_port);
    b.RegisterService(impl->grpc_service.get());
    b.SetMaxReceiveMessageSize(256 << 20);
    impl->grpc_server = b.BuildAndStart();
    if (!impl->grpc_server || impl->grpc_port == 0) {
      return Status::unavailable("cannot listen for gRPC on " + o.grpc_address +
                                 " (in use, or not an address of this machine)");
    }
  }
  if (!o.http_address.empty()) {
    JZ_ASSIGN_OR_RETURN(auto hp, split_address(o.http_address, "--http"));
    auto& h = impl->http;
    h.set_payload_max_length(size_t{256} << 20);
    auto guarded = [s](auto handler) {
      return [s, handler](const httplib::Request& req, httplib::Response& res) {
        if (!s->authorised(req.get_header_value("Authorization"))) {
          reply_error(res, Status::unauthenticated(
                               "send 'Authorization: Bearer TOKEN' (the serve --token-file)"));
          return;
        }
        handler(req, res);
      };
    };
    h.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      std::string m = "HTTP " + std::to_string(res.status);
      if (res.status == 413) {
        m = "the body is too large; send the image as it is, with its own Content-Type "
            "(e.g. image/jpeg; form-encoded bodies are limited to a few KiB)";
      } else if (res.status == 404) {
        m = "no such endpoint: POST /v1/process, GET /v1/describe, /healthz, /readyz";
      }
      res.set_content(
          Json{{"error",
                {{"code", res.status == 404 ? "not_found" : "invalid_argument"}, {"message", m}}}}
              .dump(),
          "application/json");
    });
    h.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok\n", "text/plain");
    });
    h.Get("/readyz", guarded([s](const httplib::Request&, httplib::Response& res) {
            res.set_content(Json{{"ready", true}, {"instances", s->instances.size()}}.dump(),
                            "application/json");
          }));
    h.Get("/v1/describe", guarded([s](const httplib::Request&, httplib::Response& res) {
            res.set_content(
                Json{{"description", s->description},
                     {"manifest", s->options.manifest_json.empty()
                                      ? Json()
                                      : Json::parse(s->options.manifest_json, nullptr, false)},
                     {"instances", s->instances.size()}}
                    .dump(),
                "application/json");
          }));
    h.Post("/v1/process", guarded([s](const httplib::Request& req, httplib::Response& res) {
             std::string image = req.body, args = req.get_param_value("args");
             if (req.get_header_value("Content-Type").rfind("application/json", 0) == 0) {
               Json j = Json::parse(req.body, nullptr, false);
               if (j.is_discarded() || !j.is_object() || !j.contains("image_base64") ||
                   !j["image_base64"].is_string()) {
                 reply_error(res,
                             Status::invalid_argument(
                                 "a JSON body needs \"image_base64\" (and may have \"args\")"));
                 return;
               }
               auto bytes = base64_decode(j["image_base64"].get<std::string>(), "image_base64");
               if (!bytes.ok()) {
                 reply_error(res, bytes.status());
                 return;
               }
               image = std::move(*bytes);
               if (j.contains("args")) args = j["args"].dump();
             }
             auto d = decode_encoded(image);
             if (!d.ok()) {
               reply_error(res, d.status());
               return;
             }
             d->frame.source_id = "http";
             auto r = s->process(d->frame, args);
             if (!r.ok()) {
               reply_error(res, r.status());
               return;
             }
             res.set_content(*r, "application/json");
           }));
    if (hp.second == 0) {
      impl->http_port = h.bind_to_any_port(hp.first);
    } else if (h.bind_to_port(hp.first, hp.second)) {
      impl->http_port = hp.second;
    }
    if (impl->http_port <= 0) {
      return Status::unavailable("cannot listen for HTTP on " + o.http_address +
                                 " (in use, or not an address of this machine)");
    }
    impl->http_thread = std::thread([s] { s->http.listen_after_bind(); });
  }
  return std::unique_ptr<AlgoServer>(new AlgoServer(std::move(impl)));
}

}  // namespace jz::sdk
