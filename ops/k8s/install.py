"""Installs what `make test` validates the Kubernetes manifests with, into ops/k8s/build/
(git-ignored), once:

    .venv/bin/python ops/k8s/install.py

- kustomize and kubeconform, built from the Go module proxy (`go install`);
- JSON schemas of the Kubernetes kinds, for kubeconform offline: the ones the PyPI package
  kubernetes-validate ships (fetched with pip, never installed), made standalone: each kind
  with the definitions it reaches, where the package refers to one shared file;
- the schema of KEDA's ScaledObject, from the CRD in its Go module (config/crd/bases), made
  strict the way kubeconform's openapi2jsonschema does.

tests/deploy/test_k8s.py runs kubeconform with ``-schema-location`` on SCHEMA_LOCATION only.
`make test` runs this when DONE is missing or older than this script.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
BUILD = HERE / "build"
BIN = BUILD / "bin"
SCHEMAS = BUILD / "schemas"
DONE = BUILD / ".installed"
KUSTOMIZE = BIN / "kustomize"
KUBECONFORM = BIN / "kubeconform"
SCHEMA_LOCATION = str(SCHEMAS / "{{.ResourceKind}}{{.KindSuffix}}.json")

# Newer kustomize needs a newer Go than the machines have (GOTOOLCHAIN=local).
GO_TOOLS = (
    "sigs.k8s.io/kustomize/kustomize/v5@v5.8.2",
    "github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0",
)
SCHEMA_PACKAGE = "kubernetes-validate==1.37.0"
KUBERNETES_VERSION = "v1.34.0"
KEDA_MODULE = "github.com/kedacore/keda/v2@v2.20.2"  # v2.21 needs a newer Go to unpack
KEDA_CRDS = ("keda.sh_scaledobjects.yaml",)
# A reference into the shared file, from a kind ("/api/_definitions.json#/$defs/X") or from
# within it ("#/$defs/X").
SHARED_REF = re.compile(r"^(?:/api/_definitions\.json)?#/\$defs/(.+)$")


def main() -> int:
    if shutil.which("go") is None:
        print(
            "ops/k8s/install.py: kustomize and kubeconform are built with Go 1.24 or newer,"
            " which is not on the PATH",
            file=sys.stderr,
        )
        return 1
    print(
        "installing kustomize, kubeconform and the Kubernetes schemas into ops/k8s/build/"
        " (once; about a minute)",
        file=sys.stderr,
    )
    shutil.rmtree(SCHEMAS, ignore_errors=True)
    SCHEMAS.mkdir(parents=True)
    _go_tools()
    written = _kubernetes_schemas() + _keda_schemas()
    DONE.write_text(f"{len(written)} schemas\n")
    return 0


def _go(*args: str) -> str:
    # GOTOOLCHAIN=local: the Go on the PATH builds them, never one downloaded for the purpose.
    env = os.environ | {"GOBIN": str(BIN), "GOTOOLCHAIN": "local", "GOFLAGS": "-buildvcs=false"}
    return subprocess.run(["go", *args], env=env, check=True, capture_output=True, text=True).stdout


def _go_tools() -> None:
    for tool in GO_TOOLS:
        _go("install", tool)


def _kubernetes_schemas() -> list[Path]:
    with tempfile.TemporaryDirectory() as download:
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", download]
        subprocess.run([*pip, SCHEMA_PACKAGE], check=True)
        (wheel,) = Path(download).glob("*.whl")
        prefix = f"kubernetes_validate/kubernetes-json-schema/{KUBERNETES_VERSION}-local-strict/"
        with zipfile.ZipFile(wheel) as archive:
            files = {
                name.removeprefix(prefix): json.loads(archive.read(name))
                for name in archive.namelist()
                if name.startswith(prefix) and name.endswith(".json")
            }
    definitions = files.pop("_definitions.json")["$defs"]
    written = []
    for name, schema in files.items():
        if "enum" in schema.get("properties", {}).get("kind", {}):  # a kind, not a part of one
            written.append(_write(name, _standalone(schema, definitions)))
    return written


def _standalone(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with the shared definitions it reaches under its own ``$defs``."""
    reached: dict[str, Any] = {}
    pending = [schema]
    while pending:
        for ref in _refs(pending.pop()):
            name = SHARED_REF.match(ref["$ref"])
            if name is None:
                continue
            ref["$ref"] = f"#/$defs/{name[1]}"
            if name[1] not in reached:
                reached[name[1]] = json.loads(json.dumps(definitions[name[1]]))
                pending.append(reached[name[1]])
    return schema | {"$defs": reached}


def _refs(node: Any) -> list[dict[str, Any]]:
    """Every object holding a ``$ref`` below ``node``."""
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    if not isinstance(node, dict):
        return []
    own = [node] if isinstance(node.get("$ref"), str) else []
    return own + [ref for value in node.values() for ref in _refs(value)]


def _keda_schemas() -> list[Path]:
    module = json.loads(_go("mod", "download", "-json", KEDA_MODULE))
    written = []
    for crd_file in KEDA_CRDS:
        crd = yaml.safe_load((Path(module["Dir"]) / "config/crd/bases" / crd_file).read_text())
        group = crd["spec"]["group"].split(".")[0]
        kind = crd["spec"]["names"]["kind"].lower()
        for version in crd["spec"]["versions"]:
            schema = _strict(version["schema"]["openAPIV3Schema"])
            written.append(_write(f"{kind}-{group}-{version['name']}.json", schema))
    return written


def _strict(node: Any) -> Any:
    """An OpenAPI v3 schema as kubeconform's openapi2jsonschema makes it strict: objects with
    properties take no others, and int-or-string takes either."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _strict(value) for key, value in node.items()}
    if node.pop("x-kubernetes-int-or-string", False):
        node.pop("type", None)
        node["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    return node


def _write(name: str, schema: dict[str, Any]) -> Path:
    path = SCHEMAS / name
    path.write_text(json.dumps(schema))
    return path


if __name__ == "__main__":
    sys.exit(main())
