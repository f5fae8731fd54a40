#!/usr/bin/env python3
"""A CycloneDX 1.5 SBOM of what the servicekonto binary is built from (issue 15, item 19).

Reads `cargo metadata` (the locked dependency graph of the normal, non-dev build) and prints
one JSON document: every crate in the graph with its version, licence expression, package URL
and source, and the dependency relations. Usage: scripts/sbom.py > servicekonto.cdx.json
"""
import json
import subprocess
import sys
import uuid
from datetime import datetime, timezone


def main() -> int:
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked"],
            check=True, capture_output=True, text=True,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = meta["resolve"]["root"]

    # Only what the binary is built from: follow normal and build dependencies from the root.
    wanted, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in wanted:
            continue
        wanted.add(pid)
        for dep in nodes[pid]["deps"]:
            if any(k["kind"] in (None, "build") for k in dep["dep_kinds"]):
                todo.append(dep["pkg"])

    def ref(pid: str) -> str:
        p = packages[pid]
        return f"pkg:cargo/{p['name']}@{p['version']}"

    def component(pid: str) -> dict:
        p = packages[pid]
        c = {"type": "library", "bom-ref": ref(pid), "name": p["name"], "version": p["version"], "purl": ref(pid)}
        if p.get("license"):
            c["licenses"] = [{"expression": p["license"]}]
        if p.get("description"):
            c["description"] = p["description"].strip()
        if p.get("source"):
            c["externalReferences"] = [{"type": "distribution", "url": p["source"]}]
        return c

    top = component(root)
    top["type"] = "application"
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {"timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"), "component": top},
        "components": [component(pid) for pid in sorted(wanted - {root}, key=ref)],
        "dependencies": [
            {
                "ref": ref(pid),
                "dependsOn": sorted(
                    ref(d["pkg"]) for d in nodes[pid]["deps"]
                    if d["pkg"] in wanted and any(k["kind"] in (None, "build") for k in d["dep_kinds"])
                ),
            }
            for pid in sorted(wanted, key=ref)
        ],
    }
    json.dump(bom, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
