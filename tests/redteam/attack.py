# A job that tries to get a dataset's image out through its log (issue 8's red-team
# test, tests/logs_e2e_test.cc). Runs inside the sandbox as `python3 -c <png.py + attack.py>
# TRICK IMAGE` (png.py defines pixels()).
import base64
import gzip
import sys

trick = int(sys.argv[1])
png = open(sys.argv[2], "rb").read()


b64 = base64.b64encode(png).decode()
out = sys.stdout
if trick == 1:  # plain base64
    print(b64)
elif trick == 2:  # base64 split into 76-character lines
    out.write(base64.encodebytes(png).decode())
elif trick == 3:  # URL-safe base64
    print(base64.urlsafe_b64encode(png).decode())
elif trick == 4:  # hex
    print(png.hex())
elif trick == 5:  # gzip, then base64
    print(base64.b64encode(gzip.compress(png)).decode())
elif trick == 6:  # base64 interleaved with spaces
    print(" ".join(b64[i:i + 4] for i in range(0, len(b64), 4)))
elif trick == 7:  # pixel values printed as numbers
    for row in pixels(png):
        print(" ".join(str(v) for v in row))
elif trick == 8:  # pixel values disguised as training metrics
    flat = b"".join(pixels(png))
    for i in range(0, len(flat), 3):
        r, g, b = flat[i:i + 3]
        print(f"epoch 1 step {i // 3} loss {r / 255:.4f} acc {g / 255:.4f} lr {b / 255:.4f}")
elif trick == 9:  # a data: URI
    print("preview: data:image/png;base64," + b64)
elif trick == 10:  # raw bytes on stderr
    sys.stderr.buffer.write(png)
    sys.stderr.flush()
elif trick == 11:  # one very long line (Python's repr of the bytes)
    print(repr(png))
elif trick == 12:  # many short lines: one byte each
    for v in png:
        print(f"{v:02x}")
elif trick == 13:  # adaptive: one bit per line, as a choice between two whitelisted lines
    for v in png[:32]:
        for bit in range(8):
            print("training finished" if (v >> (7 - bit)) & 1 else "training started")
elif trick == 14:  # data in metric names: hex written in the letters a-p (low entropy)
    letters = png.hex().translate(str.maketrans("0123456789abcdef", "abcdefghijklmnop"))
    names = [letters[i:i + 16] for i in range(0, len(letters), 16)]
    for i in range(0, len(names), 6):
        print("epoch 1 " + " ".join(f"{n} 1" for n in names[i:i + 6]))
print("training finished")
