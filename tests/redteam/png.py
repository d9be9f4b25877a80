# The test image's pixels: an 8-bit RGB PNG with one IDAT and filter 0 on every row (what
# tests/logs_e2e_test.cc writes). Shared by attack.py (the test sends png.py + attack.py as
# the job's program) and decode.py.
import zlib


def pixels(data):
    at, idat, width = 8, b"", 0
    while at < len(data):
        n = int.from_bytes(data[at:at + 4], "big")
        kind = data[at + 4:at + 8]
        body = data[at + 8:at + 8 + n]
        if kind == b"IHDR":
            width = int.from_bytes(body[0:4], "big")
        if kind == b"IDAT":
            idat += body
        at += 12 + n
    raw = zlib.decompress(idat)
    row = 1 + 3 * width
    return [raw[i + 1:i + row] for i in range(0, len(raw), row)]
