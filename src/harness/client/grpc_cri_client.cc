// GrpcCriClient: one generic stub for every CRI method. Requests and
// responses are dynamic protobuf messages typed by the method's descriptor,
// so adding an RPC to api.proto needs no code here.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "google/protobuf/message.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/byte_buffer.h"
#include "harness/client/cri_client.h"
#include "common/strings.h"

namespace crisp::client {
namespace {

// ExecSync may return up to 16 MiB on each of stdout and stderr; ListImages
// on a busy node is large too.
constexpr int kMaxReceiveBytes = 64 * 1024 * 1024;

grpc::ByteBuffer Serialize(const google::protobuf::Message& message) {
  std::string bytes = message.SerializeAsString();
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

bool Parse(const grpc::ByteBuffer& buffer, google::protobuf::Message* message) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return message->ParseFromString(bytes);
}

// One server-streaming call on its own completion queue, driven by one
// thread: start, send the request, close the sending side, read the
// headers, read messages until the call ends, finish.
class GrpcCriStream final : public CriStream {
 public:
  GrpcCriStream(grpc::GenericStub& stub, const MethodDescriptor& method, const google::protobuf::Message& request,
                absl::Duration timeout, CallRecorder* recorder)
      : method_(method), recorder_(recorder) {
    record_.service = method.service()->full_name();
    record_.method = method.name();
    std::shared_ptr<google::protobuf::Message> copy(request.New());
    copy->CopyFrom(request);
    record_.request = copy;
    record_.start = std::chrono::system_clock::now();
    steady_start_ = std::chrono::steady_clock::now();
    context_.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    request_bytes_ = Serialize(request);
    call_ = stub.PrepareCall(&context_, GrpcPath(method), &queue_);
    thread_ = std::thread([this] { Drive(); });
  }
  ~GrpcCriStream() override { Close(); }

  bool AwaitStarted(absl::Duration within) override {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, absl::ToChronoNanoseconds(within), [&] { return started_ || ended_; });
  }
  std::vector<std::shared_ptr<const google::protobuf::Message>> Messages() const override {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  bool Ended() const override {
    std::lock_guard lock(mutex_);
    return ended_;
  }
  CallRecord Close() override {
    if (thread_.joinable()) {
      bool stopped_by_us = false;
      {
        std::lock_guard lock(mutex_);
        stopped_by_us = !ended_;
      }
      if (stopped_by_us) context_.TryCancel();
      thread_.join();
      queue_.Shutdown();
      void* tag;
      bool ok;
      while (queue_.Next(&tag, &ok)) {
      }
      record_.latency = std::chrono::steady_clock::now() - steady_start_;
      record_.code = static_cast<absl::StatusCode>(status_.error_code());
      record_.message = status_.error_message();
      if (stopped_by_us && record_.code == absl::StatusCode::kCancelled) {
        record_.code = absl::StatusCode::kOk;  // we hung up; the runtime had not failed
        record_.message.clear();
      }
      if (recorder_ != nullptr) recorder_->Record(record_);
    }
    return record_;
  }

 private:
  enum Tag : intptr_t { kStart = 1, kWrite, kWritesDone, kHeaders, kRead, kFinish };

  bool Next(Tag expected) {
    void* tag = nullptr;
    bool ok = false;
    if (!queue_.Next(&tag, &ok)) return false;
    return ok && reinterpret_cast<intptr_t>(tag) == expected;
  }

  void Drive() {
    bool alive = true;
    call_->StartCall(reinterpret_cast<void*>(kStart));
    alive = Next(kStart);
    if (alive) {
      call_->Write(request_bytes_, reinterpret_cast<void*>(kWrite));
      alive = Next(kWrite);
    }
    if (alive) {
      call_->WritesDone(reinterpret_cast<void*>(kWritesDone));
      alive = Next(kWritesDone);
    }
    if (alive) {
      call_->ReadInitialMetadata(reinterpret_cast<void*>(kHeaders));
      alive = Next(kHeaders);
      std::lock_guard lock(mutex_);
      started_ = alive;
      changed_.notify_all();
    }
    const google::protobuf::Message* prototype =
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(method_.output_type());
    while (alive) {
      grpc::ByteBuffer buffer;
      call_->Read(&buffer, reinterpret_cast<void*>(kRead));
      alive = Next(kRead);
      if (!alive) break;
      std::shared_ptr<google::protobuf::Message> message(prototype->New());
      if (!Parse(buffer, message.get())) continue;  // counted as nothing; Finish tells what went wrong
      std::lock_guard lock(mutex_);
      messages_.push_back(std::move(message));
      changed_.notify_all();
    }
    call_->Finish(&status_, reinterpret_cast<void*>(kFinish));
    Next(kFinish);
    std::lock_guard lock(mutex_);
    ended_ = true;
    changed_.notify_all();
  }

  const MethodDescriptor& method_;
  CallRecorder* recorder_;
  CallRecord record_;
  std::chrono::steady_clock::time_point steady_start_;
  grpc::ClientContext context_;
  grpc::CompletionQueue queue_;
  grpc::ByteBuffer request_bytes_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  grpc::Status status_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool started_ = false;
  bool ended_ = false;
  std::vector<std::shared_ptr<const google::protobuf::Message>> messages_;
};

class GrpcCriClient final : public CriClient {
 public:
  GrpcCriClient(const Endpoint& endpoint, const GrpcClientOptions& options)
      : options_(options) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxReceiveBytes);
    // Each client gets its own connection, so that one runtime's trouble
    // never stalls calls to another.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channel_ = grpc::CreateCustomChannel(
        endpoint.GrpcTarget(), grpc::InsecureChannelCredentials(), args);
    stub_ = std::make_unique<grpc::GenericStub>(channel_);
  }

  CallRecord Call(const MethodDescriptor& method,
                  const google::protobuf::Message& request,
                  const CallOptions& options) override {
    CallRecord record;
    record.service = method.service()->full_name();
    record.method = method.name();
    std::shared_ptr<google::protobuf::Message> request_copy(request.New());
    request_copy->CopyFrom(request);
    record.request = request_copy;
    record.start = std::chrono::system_clock::now();

    if (request.GetDescriptor() != method.input_type()) {
      record.code = absl::StatusCode::kInvalidArgument;
      record.message = crisp::StrCat(method.name(), " takes ",
                                    method.input_type()->full_name(), ", not ",
                                    request.GetDescriptor()->full_name());
    } else if (!IsUnary(method)) {
      record.code = absl::StatusCode::kUnimplemented;
      record.message = crisp::StrCat(method.name(),
                                    " is a streaming RPC; crisp's client "
                                    "calls only unary RPCs so far");
    } else {
      Invoke(method, request, options, record);
    }
    if (options_.recorder != nullptr) options_.recorder->Record(record);
    return record;
  }

  std::unique_ptr<CriStream> OpenStream(const MethodDescriptor& method, const google::protobuf::Message& request,
                                        const CallOptions& options) override {
    absl::Duration timeout = options.timeout > absl::ZeroDuration() ? options.timeout : options_.default_timeout;
    return std::make_unique<GrpcCriStream>(*stub_, method, request, timeout, options_.recorder);
  }

 private:
  void Invoke(const MethodDescriptor& method,
              const google::protobuf::Message& request,
              const CallOptions& options, CallRecord& record) {
    absl::Duration timeout = options.timeout > absl::ZeroDuration()
                                 ? options.timeout
                                 : options_.default_timeout;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));

    grpc::ByteBuffer request_bytes = Serialize(request);
    grpc::ByteBuffer response_bytes;
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;
    grpc::Status status;

    auto steady_start = std::chrono::steady_clock::now();
    stub_->UnaryCall(&context, GrpcPath(method), grpc::StubOptions(),
                     &request_bytes, &response_bytes,
                     [&](grpc::Status result) {
                       std::lock_guard lock(mutex);
                       status = std::move(result);
                       done = true;
                       done_cv.notify_one();
                     });
    {
      std::unique_lock lock(mutex);
      bool cancelled = false;
      while (!done_cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return done; })) {
        if (!cancelled && options.cancel != nullptr && options.cancel->load()) {
          context.TryCancel();  // the callback still runs, with CANCELLED
          cancelled = true;
        }
      }
    }
    record.latency = std::chrono::steady_clock::now() - steady_start;

    record.code = static_cast<absl::StatusCode>(status.error_code());
    record.message = status.error_message();
    if (!status.ok()) {
      record.transport_ready = channel_->GetState(false) == GRPC_CHANNEL_READY;
      return;
    }

    const google::protobuf::Message* prototype =
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(
            method.output_type());
    std::shared_ptr<google::protobuf::Message> response(prototype->New());
    if (!Parse(response_bytes, response.get())) {
      record.code = absl::StatusCode::kDataLoss;
      record.message = crisp::StrCat("the response to ", method.name(),
                                    " is not a valid ",
                                    method.output_type()->full_name());
      return;
    }
    record.response = std::move(response);
  }

  GrpcClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;
};

}  // namespace

std::unique_ptr<CriClient> NewGrpcCriClient(const Endpoint& endpoint,
                                            const GrpcClientOptions& options) {
  return std::make_unique<GrpcCriClient>(endpoint, options);
}

}  // namespace crisp::client
