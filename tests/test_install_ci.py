"""CI runs exactly what the README tells a newcomer (issue 11): the bash commands of the README's
"Set up" section are, in order, the steps of .ci/run."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_setup_commands(readme: str) -> list[str]:
    section = readme.split("\n## Set up\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [ln.strip() for b in blocks for ln in b.splitlines() if ln.strip()]


def ci_steps(script: str) -> list[str]:
    return re.findall(r"^step '(.*)'$", script, flags=re.M)


def test_ci_runs_exactly_the_readme_setup_commands():
    readme = readme_setup_commands((ROOT / "README.md").read_text())
    steps = ci_steps((ROOT / ".ci" / "run").read_text())
    assert readme == steps
    assert steps[0].startswith("python3 -m venv .venv") and "pytest" in steps[-1]


def test_the_comparison_can_fail():
    readme = "x\n## Set up\n\n```bash\npip install -e . && v2v demo\n```\n\n## Next\n"
    assert readme_setup_commands(readme) == ["pip install -e . && v2v demo"]
    assert ci_steps("step 'pip install -e .'\n") != readme_setup_commands(readme)
