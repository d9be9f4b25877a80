#!/usr/bin/python3
"""A real gRPC client of `jizhan algo serve`, with Debian's python3-grpcio.

Usage: grpc_client.py STUBS_DIR TARGET IMAGE [TOKEN]
STUBS_DIR holds algo_pb2.py made by `protoc --python_out`. Prints one JSON object with
what each call returned, for the C++ test to check.
"""
import json
import sys

import grpc

sys.path.insert(0, sys.argv[1])
from jizhan.algo.v1 import algo_pb2 as pb  # noqa: E402

target, image_path = sys.argv[2], sys.argv[3]
token = sys.argv[4] if len(sys.argv) > 4 else ""
metadata = [("authorization", "Bearer " + token)] if token else []
channel = grpc.insecure_channel(target)
grpc.channel_ready_future(channel).result(timeout=20)


def unary(name, req_type, resp_type):
    return channel.unary_unary("/jizhan.algo.v1.Algorithm/" + name,
                               request_serializer=req_type.SerializeToString,
                               response_deserializer=resp_type.FromString)


out = {}
describe = unary("Describe", pb.DescribeRequest, pb.DescribeResponse)
process = unary("Process", pb.ProcessRequest, pb.ProcessResponse)
try:
    d = describe(pb.DescribeRequest(), metadata=metadata, timeout=20)
    out["describe"] = {"name": json.loads(d.description_json)["name"], "instances": d.instances}
except grpc.RpcError as e:
    out["describe_error"] = e.code().name
    print(json.dumps(out))
    sys.exit(0)

with open(image_path, "rb") as f:
    image = f.read()
r = process(pb.ProcessRequest(encoded=image, frame_index=7), metadata=metadata, timeout=20)
out["encoded"] = {"result": json.loads(r.result_json), "frame_index": r.frame_index,
                  "latency_ms": r.latency_ms}

raw = pb.RawFrame(width=64, height=48, format=pb.GRAY8, pixels=bytes(64 * 48))
r = process(pb.ProcessRequest(raw=raw), metadata=metadata, timeout=20)
out["raw"] = json.loads(r.result_json)

try:
    process(pb.ProcessRequest(encoded=b"not an image"), metadata=metadata, timeout=20)
    out["bad_image"] = "accepted"
except grpc.RpcError as e:
    out["bad_image"] = {"code": e.code().name, "details": e.details()}

stream = channel.stream_stream("/jizhan.algo.v1.Algorithm/ProcessStream",
                               request_serializer=pb.ProcessRequest.SerializeToString,
                               response_deserializer=pb.ProcessResponse.FromString)


def frames():
    for i in range(5):
        yield pb.ProcessRequest(encoded=image if i != 2 else b"broken", frame_index=i)


out["stream"] = []
for resp in stream(frames(), metadata=metadata, timeout=60):
    item = {"frame_index": resp.frame_index}
    if resp.error.code:
        item["error"] = resp.error.code
    else:
        item["target_count"] = json.loads(resp.result_json)["algorithm_data"]["target_count"]
    out["stream"].append(item)
print(json.dumps(out))
