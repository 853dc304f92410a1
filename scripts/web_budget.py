"""The JavaScript a phone downloads before the first page: the entry chunk, the home page's chunk
(the first route), and every chunk they import statically (from Vite's manifest), gzipped. Fails
above the budget (issue #11: 150 KB)."""
import gzip
import json
import pathlib
import sys

BUDGET = 150 * 1024
dist = pathlib.Path(sys.argv[1])
manifest = json.loads((dist / ".vite" / "manifest.json").read_text())
entry = next(key for key, chunk in manifest.items() if chunk.get("isEntry"))
seen, stack = set(), [entry, "src/pages/Home.vue"]
while stack:
    key = stack.pop()
    if key in seen:
        continue
    seen.add(key)
    stack.extend(manifest[key].get("imports", []))
total = 0
for key in sorted(seen):
    size = len(gzip.compress((dist / manifest[key]["file"]).read_bytes(), compresslevel=9))
    total += size
    print(f"  {manifest[key]['file']:<48} {size / 1024:7.1f} KB gzipped")
print(f"JavaScript before the first page: {total / 1024:.1f} KB gzipped (budget {BUDGET // 1024} KB)")
sys.exit(0 if total <= BUDGET else 1)
