"""relnas_mm.space.genotype: text/JSON formats, validation, shipped cells, get_genotype."""
import json

import pytest

from relnas_mm.space import (GENOTYPES, Genotype, GenotypeError, format_genotype,
                             genotype_from_dict, genotype_to_dict, get_genotype, load_genotype_file,
                             parse_genotype, save_genotype, validate)

CONCAT = [2, 3, 4, 5]
PUBLISHED_NORMAL = [('sep_conv_3x3', 0), ('dil_conv_5x5', 1), ('sep_conv_3x3', 1),
                    ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('sep_conv_5x5', 1),
                    ('skip_connect', 0), ('sep_conv_3x3', 0)]
PUBLISHED_REDUCE = [('avg_pool_3x3', 1), ('max_pool_3x3', 1), ('dil_conv_5x5', 1),
                    ('max_pool_3x3', 1), ('avg_pool_3x3', 3), ('skip_connect', 1),
                    ('dil_conv_5x5', 3), ('sep_conv_3x3', 1)]


def with_normal(pairs, concat=CONCAT) -> Genotype:
    return Genotype(pairs, concat, PUBLISHED_REDUCE, CONCAT)


def test_shipped_genotypes_load_by_name():
    assert sorted(GENOTYPES) == ['DARTS_V2', 'PC_DARTS', 'RelativeNAS']
    g = get_genotype('RelativeNAS')
    assert g.normal == PUBLISHED_NORMAL and g.reduce == PUBLISHED_REDUCE
    assert g.normal_concat == g.reduce_concat == CONCAT
    for name in GENOTYPES:
        assert validate(get_genotype(name)) is GENOTYPES[name]


@pytest.mark.parametrize('name', sorted(GENOTYPES))
def test_text_round_trip(name):
    g = GENOTYPES[name]
    text = format_genotype(g)
    assert text.startswith("Genotype(normal=[('")
    assert parse_genotype(text) == g
    assert get_genotype(text) == g


def test_parse_the_authors_text_with_range_concat():
    text = ('Genotype(normal=' + repr(PUBLISHED_NORMAL) + ', normal_concat=range(2, 6), '
            'reduce=' + repr(PUBLISHED_REDUCE) + ', reduce_concat=range(2, 6))')
    g = parse_genotype(text)
    assert g == GENOTYPES['RelativeNAS']
    assert g.normal_concat == CONCAT


@pytest.mark.parametrize('name', sorted(GENOTYPES))
def test_json_round_trip(name, tmp_path):
    g = GENOTYPES[name]
    as_dict = json.loads(json.dumps(genotype_to_dict(g)))
    assert genotype_from_dict(as_dict) == g
    assert genotype_from_dict({'genotype': as_dict}) == g
    path = tmp_path / f'{name}.json'
    save_genotype(g, str(path), generation=7)
    saved = json.loads(path.read_text())
    assert saved['generation'] == 7 and saved['text'] == format_genotype(g)
    assert load_genotype_file(str(path)) == g
    assert get_genotype(str(path)) == g
    assert get_genotype(as_dict) == g


def test_text_file_is_loaded(tmp_path):
    path = tmp_path / 'cell.txt'
    path.write_text(format_genotype(GENOTYPES['PC_DARTS']) + '\n')
    assert get_genotype(str(path)) == GENOTYPES['PC_DARTS']


@pytest.mark.parametrize('genotype,match', [
    (with_normal(PUBLISHED_NORMAL[:7]), 'normal: expected 8 .* got 7'),
    (with_normal(PUBLISHED_NORMAL + [('skip_connect', 0)]), 'got 9'),
    (with_normal([('conv_7x7', 0)] + PUBLISHED_NORMAL[1:]),
     "normal\\[0\\]: unknown operation 'conv_7x7'"),
    (with_normal([('none', 0)] + PUBLISHED_NORMAL[1:]), "unknown operation 'none'"),
    (with_normal(PUBLISHED_NORMAL[:1] + [('sep_conv_3x3', 2)] + PUBLISHED_NORMAL[2:]),
     r'normal\[1\]: input 2 out of range for node 0 \(expected an integer in 0..1\)'),
    (with_normal(PUBLISHED_NORMAL[:7] + [('sep_conv_3x3', 5)]), 'input 5 out of range for node 3'),
    (with_normal([('sep_conv_3x3', -1)] + PUBLISHED_NORMAL[1:]), 'input -1 out of range'),
    (with_normal([('sep_conv_3x3', True)] + PUBLISHED_NORMAL[1:]), 'input True'),
    (with_normal([('sep_conv_3x3', 0.0)] + PUBLISHED_NORMAL[1:]), 'input 0.0'),
    (with_normal([('sep_conv_3x3', 0, 1)] + PUBLISHED_NORMAL[1:]),
     r'expected an \(op, input\) pair'),
    (with_normal(PUBLISHED_NORMAL, [2, 3, 4]), r'normal_concat: expected \[2, 3, 4, 5\]'),
    (with_normal(PUBLISHED_NORMAL, [2, 3, 4, 6]), 'normal_concat'),
    (Genotype(PUBLISHED_NORMAL, CONCAT, PUBLISHED_REDUCE, [5, 4, 3, 2]), 'reduce_concat'),
    ((PUBLISHED_NORMAL, CONCAT, PUBLISHED_REDUCE, CONCAT), 'expected a Genotype'),
])
def test_validator_names_the_problem(genotype, match):
    with pytest.raises(GenotypeError, match=match):
        validate(genotype)


@pytest.mark.parametrize('text,match', [
    ('Genotype(normal=[', 'does not parse'),
    ('Cell(normal=[])', 'expected "Genotype'),
    ('Genotype(normal=[], normal_concat=[2])', "missing \\['reduce', 'reduce_concat'\\]"),
    ("Genotype(normal=__import__('os').listdir('.'), normal_concat=[], reduce=[], "
     "reduce_concat=[])", 'not a literal'),
    ("Genotype(normal=[('sep_conv_3x3', 9)] * 8, normal_concat=[2, 3, 4, 5], reduce=[], "
     "reduce_concat=[2, 3, 4, 5])", 'not a literal'),
])
def test_parse_errors(text, match):
    with pytest.raises(GenotypeError, match=match):
        parse_genotype(text)


def test_get_genotype_errors_name_the_value(tmp_path):
    with pytest.raises(GenotypeError, match="'Relative_NAS' is neither a shipped name"):
        get_genotype('Relative_NAS')
    with pytest.raises(GenotypeError, match='missing.json'):
        get_genotype(str(tmp_path / 'missing.json'))
    bad = tmp_path / 'bad.json'
    bad.write_text('{"normal": [["sep_conv_3x3", 0]],')
    with pytest.raises(GenotypeError, match='bad.json is not valid JSON'):
        get_genotype(str(bad))
    wrong = tmp_path / 'wrong.json'
    wrong.write_text(json.dumps({'normal': [['skip', 0]] * 8, 'reduce': [['skip', 0]] * 8}))
    with pytest.raises(GenotypeError, match="wrong.json: .*unknown operation 'skip'"):
        get_genotype(str(wrong))
    with pytest.raises(GenotypeError, match="lacks key\\(s\\) \\['reduce'\\]"):
        genotype_from_dict({'normal': PUBLISHED_NORMAL})
    with pytest.raises(GenotypeError, match='from int'):
        get_genotype(3)
