"""What can be searched: operations, genotypes, the continuous encoding (no mmengine)."""
from .encoding import (DIM, EncodingError, bounds, decode, decode_indices, decode_population,
                       encode, encode_population, random_population)
from .genotype import (GENOTYPES, NUM_NODES, Genotype, GenotypeError, format_genotype,
                       genotype_from_dict, genotype_to_dict, get_genotype, load_genotype_file,
                       parse_genotype, save_genotype, validate)
from .operations import OPS, PRIMITIVES, build_op

__all__ = [
    'DIM', 'EncodingError', 'bounds', 'decode', 'decode_indices', 'decode_population', 'encode',
    'encode_population', 'random_population', 'GENOTYPES', 'NUM_NODES', 'Genotype', 'GenotypeError',
    'format_genotype', 'genotype_from_dict', 'genotype_to_dict', 'get_genotype',
    'load_genotype_file', 'parse_genotype', 'save_genotype', 'validate', 'OPS', 'PRIMITIVES',
    'build_op'
]
