"""Each function's artefact in a `sam build` output directory (default .aws-sam/build): the
bootstrap binary's size and the size of the zip SAM uploads (deflate, as `sam deploy` zips it).
The goal is at most 6 MB zipped (a zip over it is marked; Lambda's own limit is 50 MB); it fails
on a binary that is not arm64, which is what template.yaml deploys."""

import io
import pathlib
import struct
import sys
import zipfile

LIMIT = 6 * 1000 * 1000
AARCH64 = 0xB7  # ELF e_machine


def main() -> int:
    build = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".aws-sam/build")
    found, failed = 0, False
    print(f"{'function':<24} {'bootstrap':>12} {'zipped':>12}")
    for bootstrap in sorted(build.glob("*/bootstrap")):
        found += 1
        data = bootstrap.read_bytes()
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("bootstrap", data)
        zipped = len(buf.getvalue())
        machine = struct.unpack_from("<H", data, 18)[0] if data[:4] == b"\x7fELF" else None
        notes = []
        if machine != AARCH64:
            notes.append("NOT arm64")
            failed = True
        if zipped > LIMIT:
            notes.append("over the 6 MB goal (docs/build.md)")
        name = bootstrap.parent.name
        print(f"{name:<24} {len(data) / 1e6:>9.1f} MB {zipped / 1e6:>9.1f} MB  {' '.join(notes)}")
    if not found:
        print(f"no bootstrap under {build}", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
