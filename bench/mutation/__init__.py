"""AST mutation operators: find sites in a repository's own code and apply them."""

from bench.mutation.finder import find_mutations
from bench.mutation.model import (
    KINDS,
    Mutation,
    MutationError,
    apply_mutations,
    apply_to_source,
    candidate_key,
)

__all__ = [
    "KINDS",
    "Mutation",
    "MutationError",
    "apply_mutations",
    "apply_to_source",
    "candidate_key",
    "find_mutations",
]
