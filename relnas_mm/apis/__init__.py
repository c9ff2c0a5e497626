"""What the tools need to turn a command line into a running mmengine runner.

``cli`` parses and merges the options tools/search.py, tools/train.py and
tools/test.py share; ``launch`` registers a config's scope, builds its runner (also
for CPU-only multi-process runs) and closes its process group; ``preflight`` checks
data, genotypes and checkpoint files before anything is built; ``pretrained`` binds
a config's top-level ``pretrained``/``genotype`` and refuses ImageNet weights that
do not fit; ``checkpoint_compat`` lets mmengine load its own checkpoints under
torch's ``weights_only`` loading, and importing this package allowlists them.
"""
from .checkpoint_compat import allow_mmengine_checkpoints
from .cli import (add_common_args, add_resume_arg, config_from_args, parse_tool_args,
                  runner_config_from_args, set_resume, tool_parser)
from .launch import (build_runner, check_amp_device, closing_process_group, prepare_cpu_distributed,
                     register_scope_modules)
from .preflight import (DataCheckError, check_checkpoint, check_data, check_model, preflight,
                        set_data_root, set_num_classes, unfinished_genotypes)
from .pretrained import (PretrainedMismatchError, bind_top_level, check_pretrained,
                         from_scratch_warning)

allow_mmengine_checkpoints()

__all__ = [
    'allow_mmengine_checkpoints', 'add_common_args', 'add_resume_arg', 'config_from_args',
    'parse_tool_args', 'runner_config_from_args', 'set_resume', 'tool_parser', 'build_runner',
    'check_amp_device', 'closing_process_group', 'prepare_cpu_distributed',
    'register_scope_modules', 'DataCheckError', 'check_checkpoint', 'check_data', 'check_model',
    'preflight', 'set_data_root', 'set_num_classes', 'unfinished_genotypes',
    'PretrainedMismatchError', 'bind_top_level', 'check_pretrained', 'from_scratch_warning'
]
