"""The command line: ``python -m relnas_mm.visualization``."""
import json
import os

import pytest

from relnas_mm.visualization.__main__ import main


def test_command_line_draws_cells_and_curves(tmp_path, capsys):
    history = tmp_path / 'search_history.json'
    history.write_text(
        json.dumps({
            'generations': [
                dict(generation=g, best_loss=2.0 - g / 10, mean_loss=2.2 - g / 10, best_acc=0.2)
                for g in range(3)
            ]
        }))
    paths = main([
        'PC_DARTS', '--out-dir',
        str(tmp_path / 'out'), '--formats', 'png', '--history',
        str(history)
    ])
    assert paths == [
        str(tmp_path / 'out' / n) for n in ('normal.png', 'reduce.png', 'search_curves.png')
    ]
    assert all(os.path.getsize(p) > 1000 for p in paths)
    assert capsys.readouterr().out.split() == paths


def test_command_line_refuses_a_history_without_generations(tmp_path):
    history = tmp_path / 'h.json'
    history.write_text(json.dumps({'search': {}}))
    with pytest.raises(SystemExit, match=r'h\.json: expected a list of generations'):
        main([
            'RelativeNAS', '--out-dir',
            str(tmp_path), '--formats', 'svg', '--history',
            str(history)
        ])
