"""params.yaml's schema and loader: `from pipeline.config import Params, load_params, WganParams`.

core.py: the sections the comparison reads; theory.py: the `theory:` section; params.py: the root, the
cross-key checks and the YAML loader."""

from pipeline.config.core import (  # noqa: F401
    DatasetName, ParamsError, Int, Float, Bool, INCEPTION_DIMS, IMAGE_DATASETS, DCGAN_DATASETS, SEED_MAX, DIGITS_SMALLEST_CLASS, W1_COST_BUDGET_BYTES, W1_MAX_SAMPLES, DataParams, NetParams, TrainParams, BudgetParams, GanParams, WganParams, WganGpParams, AvbParams, VaeParams, InceptionParams, ClassifierParams, LoglikParams, AisParams, EvalParams)
from pipeline.config.theory import (  # noqa: F401
    Constraint, CriticUpdate, LinesParams, VanishingParams, MixtureParams, TheoryWgan, TheoryGan, MeaningfulParams, EnergyParams, AblationParams, AvbToyParams, TheoryParams)
from pipeline.config.params import (  # noqa: F401
    SHARED_KEYS, Params, parse_params, load_params)
