"""Packaging of relnas_mm, an OpenMMLab 2.x plug-in for RelativeNAS.

Use ``bash tools/install.sh`` to install the whole stack (it builds mmcv with
its compiled ops and works around mmpose/xtcocotools packaging problems); this
file is what its final ``pip install -e .`` step runs.
"""
import os.path as osp
import re
from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def get_version():
    version_file = osp.join(HERE, 'relnas_mm', 'version.py')
    namespace = {}
    with open(version_file, encoding='utf-8') as f:
        exec(compile(f.read(), version_file, 'exec'), namespace)
    return namespace['__version__']


def parse_requirements(fname, exclude=()):
    """Requirement lines of ``requirements/<fname>`` (no comments, no -r)."""
    reqs = []
    with open(osp.join(HERE, 'requirements', fname), encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line or line.startswith('-'):
                continue
            name = re.split(r'[<>=!~;\[ ]', line, maxsplit=1)[0]
            if name.lower() in exclude:
                continue
            reqs.append(line)
    return reqs


def readme():
    path = osp.join(HERE, 'README.md')
    if not osp.exists(path):
        return ''
    with open(path, encoding='utf-8') as f:
        return f.read()


if __name__ == '__main__':
    setup(
        name='relnas_mm',
        version=get_version(),
        description='RelativeNAS (relative neural architecture search) as an '
        'OpenMMLab 2.x plug-in',
        long_description=readme(),
        long_description_content_type='text/markdown',
        packages=find_packages(include=['relnas_mm', 'relnas_mm.*']),
        include_package_data=True,
        python_requires='>=3.9',
        # torch/torchvision are left out on purpose: mmcv's compiled ops tie
        # the environment to one torch build, which tools/install.sh installs
        # (pinned in requirements/runtime.txt); pip must not replace it.
        install_requires=parse_requirements('runtime.txt', exclude=('torch', 'torchvision')),
        extras_require={
            'tests':
            parse_requirements('tests.txt'),
            'optional':
            parse_requirements('optional.txt'),
            # See requirements/mminstall.txt: tools/install.sh installs these
            # (mmcv from source with ops, mmpose without chumpy).
            'mim':
            parse_requirements('mminstall.txt'),
            'all':
            parse_requirements('runtime.txt') + parse_requirements('optional.txt') +
            parse_requirements('tests.txt'),
        },
        classifiers=[
            'Programming Language :: Python :: 3',
            'Programming Language :: Python :: 3.9',
            'Programming Language :: Python :: 3.10',
            'Programming Language :: Python :: 3.11',
            'Operating System :: POSIX :: Linux',
        ],
        zip_safe=False,
    )
