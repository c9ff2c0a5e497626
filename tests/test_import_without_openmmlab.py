"""`import relnas_mm` with mmengine but without a package its OpenMMLab part imports."""
import subprocess
import sys

import pytest
from fixtures_tools import REPO

pytest.importorskip('mmengine')


@pytest.mark.parametrize('missing', ['mmcv', 'mmdet'])
def test_a_missing_package_is_named_with_the_install_command(missing):
    """mmcv is imported by the datasets; mmdet stands for the downstream packages,
    imported lazily (``import relnas_mm`` then succeeds, as it must)."""
    code = (f'import sys; sys.modules[{missing!r}] = None\n'
            'import relnas_mm')
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True,
                          env={
                              'PYTHONPATH': REPO,
                              'PATH': '/usr/bin:/bin'
                          }, timeout=300)
    if missing == 'mmdet':
        assert proc.returncode == 0, proc.stderr[-2000:]
        return
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('ModuleNotFoundError: relnas_mm: mmengine is installed but mmcv is '
                           'not'), proc.stderr[-2000:]
    assert '`bash tools/install.sh`' in last
    assert proc.stderr.count('Traceback') == 1  # one message, no chained ones
