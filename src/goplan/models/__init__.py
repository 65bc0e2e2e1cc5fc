"""Networks: dynamics ensemble, value function, advantage-weighted CGAN, normaliser."""
from goplan.models.cgan import Discriminator, Generator, advantage_weight, discriminator_loss, generator_loss
from goplan.models.dynamics import DynamicsEnsemble
from goplan.models.layers import EnsembleLinear, EnsembleMLP, mlp
from goplan.models.normalizer import Normalizer, fit_normalizers
from goplan.models.precision import matmul_precision
from goplan.models.value import ValueFunction

__all__ = [
    "Discriminator", "DynamicsEnsemble", "EnsembleLinear", "EnsembleMLP", "Generator", "Normalizer", "fit_normalizers",
    "ValueFunction", "advantage_weight", "discriminator_loss", "generator_loss", "matmul_precision", "mlp",
]
