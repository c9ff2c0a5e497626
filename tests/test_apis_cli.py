"""relnas_mm.apis.cli: the options tools/search.py, train.py and test.py share."""
import os

import pytest

pytest.importorskip('mmengine')

from relnas_mm.apis import (add_common_args, add_resume_arg, config_from_args, parse_tool_args,
                            set_resume, tool_parser)


def _parser():
    parser = tool_parser('a tool', 'config file')
    add_common_args(parser, 'work dir', 'data root', 'a=1')
    add_resume_arg(parser, 'checkpoint')
    return parser


@pytest.fixture
def config_file(tmp_path) -> str:
    path = tmp_path / 'my_config.py'
    path.write_text('model = dict(depth=2, width=8)\nwork_dir = None\n')
    return str(path)


def test_options_are_merged_into_the_config(config_file, monkeypatch):
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    args = parse_tool_args(_parser(), [
        config_file, '--cfg-options', 'model.depth=5', '--launcher', 'pytorch', '--local-rank', '3'
    ])
    assert os.environ['LOCAL_RANK'] == '3'  # torch.distributed.launch's --local-rank
    cfg = config_from_args(args)
    assert cfg.model == dict(depth=5, width=8) and cfg.launcher == 'pytorch'
    assert cfg.work_dir == os.path.join('./work_dirs', 'my_config')


def test_launcher_rank_wins_over_the_option(config_file, monkeypatch):
    monkeypatch.setenv('LOCAL_RANK', '1')  # torchrun sets it
    parse_tool_args(_parser(), [config_file, '--local-rank', '0'])
    assert os.environ['LOCAL_RANK'] == '1'


def test_work_dir_option_and_config_value(config_file, tmp_path):
    cfg = config_from_args(parse_tool_args(_parser(), [config_file, '--work-dir', 'w']))
    assert cfg.work_dir == 'w'
    cfg = config_from_args(
        parse_tool_args(_parser(), [config_file, '--cfg-options', 'work_dir=from_cfg']))
    assert cfg.work_dir == 'from_cfg'


@pytest.mark.parametrize('argv, resume, load_from', [([], False, None), (['--resume'], True, None),
                                                     (['--resume', 'a.pth'], True, 'a.pth')])
def test_resume(config_file, argv, resume, load_from):
    args = parse_tool_args(_parser(), [config_file, *argv])
    cfg = config_from_args(args)
    cfg.resume, cfg.load_from = False, None
    set_resume(cfg, args.resume)
    assert (cfg.resume, cfg.load_from) == (resume, load_from)


def test_bad_launcher_is_refused(config_file):
    with pytest.raises(SystemExit):
        parse_tool_args(_parser(), [config_file, '--launcher', 'ssh'])
