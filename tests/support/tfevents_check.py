"""Reads TensorBoard event files with none of Jizhan's code: TFRecord framing with its own
CRC-32C (masked as TFRecord masks it), and Event/Summary messages decoded by the
python3-protobuf runtime from message definitions written here from the format's field
numbers (Event: wall_time 1, step 2, file_version 3, summary 5; Summary: value 1;
Summary.Value: tag 1, simple_value 2). Prints JSON: the file version and, per tag, the
points (step, wall time, value).

    python3 tfevents_check.py FILE_OR_FOLDER
"""
import json
import os
import struct
import sys

from google.protobuf import descriptor_pb2, descriptor_pool

try:
    from google.protobuf.message_factory import GetMessageClass
except ImportError:  # protobuf before 4.22
    from google.protobuf import message_factory

    def GetMessageClass(desc):
        return message_factory.MessageFactory(desc.file.pool).GetPrototype(desc)


def crc32c(data):
    table = crc32c.table
    crc = 0xFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


crc32c.table = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    crc32c.table.append(c)


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def messages():
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="tbcheck.proto", package="tbcheck")

    def msg(name, fields, parent=None):
        m = (parent.nested_type if parent else fdp.message_type).add(name=name)
        for fname, number, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name
        return m

    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    summary = msg("Summary", [("value", 1, F.TYPE_MESSAGE, rep, ".tbcheck.Summary.Value")])
    msg("Value", [("tag", 1, F.TYPE_STRING, opt, None),
                  ("simple_value", 2, F.TYPE_FLOAT, opt, None)], parent=summary)
    msg("Event", [("wall_time", 1, F.TYPE_DOUBLE, opt, None),
                  ("step", 2, F.TYPE_INT64, opt, None),
                  ("file_version", 3, F.TYPE_STRING, opt, None),
                  ("summary", 5, F.TYPE_MESSAGE, opt, ".tbcheck.Summary")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return GetMessageClass(pool.FindMessageTypeByName("tbcheck.Event"))


def read(path, Event, out):
    data = open(path, "rb").read()
    at = 0
    while at < len(data):
        header = data[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[at + 8:at + 12])
        if masked(header) != length_crc:
            raise SystemExit("%s: bad length CRC at %d" % (path, at))
        body = data[at + 12:at + 12 + length]
        (body_crc,) = struct.unpack("<I", data[at + 12 + length:at + 16 + length])
        if masked(body) != body_crc:
            raise SystemExit("%s: bad data CRC at %d" % (path, at))
        event = Event()
        event.ParseFromString(body)
        if event.file_version:
            out["file_version"] = event.file_version
        for v in event.summary.value:
            out["tags"].setdefault(v.tag, []).append([event.step, event.wall_time, v.simple_value])
        out["events"] += 1
        at += 16 + length


def main():
    Event = messages()
    target = sys.argv[1]
    files = [target]
    if os.path.isdir(target):
        files = sorted(os.path.join(target, f) for f in os.listdir(target) if "tfevents" in f)
    out = {"file_version": "", "events": 0, "tags": {}, "files": len(files)}
    for f in files:
        read(f, Event, out)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
