"""Online and batch models: linear regression (gradient descent, closed form, recursive),
logistic and softmax regression, and their prequential graph nodes.

Shared vocabulary: ``learn_one(x, y)``, ``predict_one(x)``, ``score_one(x, y)`` (the loss
of the current model on one example), and the numpy batch paths ``learn_many`` /
``predict_many``; the gradient-descent models also have ``fit`` (until convergence).
"""

from __future__ import annotations

from fluvius.nodes.models._sgd import FitReport as FitReport
from fluvius.nodes.models.least_squares import LeastSquares as LeastSquares
from fluvius.nodes.models.linear_gd import GDLinearRegression as GDLinearRegression
from fluvius.nodes.models.logistic import LogisticRegression as LogisticRegression
from fluvius.nodes.models.prequential import Prequential as Prequential
from fluvius.nodes.models.prequential import PrequentialGD as PrequentialGD
from fluvius.nodes.models.prequential import PrequentialLeastSquares as PrequentialLeastSquares
from fluvius.nodes.models.prequential import PrequentialLogistic as PrequentialLogistic
from fluvius.nodes.models.prequential import PrequentialRLS as PrequentialRLS
from fluvius.nodes.models.rls import RecursiveLeastSquares as RecursiveLeastSquares
from fluvius.nodes.models.schedules import ConstantRate as ConstantRate
from fluvius.nodes.models.schedules import ExponentialDecayRate as ExponentialDecayRate
from fluvius.nodes.models.schedules import InverseScalingRate as InverseScalingRate
from fluvius.nodes.models.softmax import SoftmaxRegression as SoftmaxRegression

__all__ = [
    "ConstantRate",
    "ExponentialDecayRate",
    "FitReport",
    "GDLinearRegression",
    "InverseScalingRate",
    "LeastSquares",
    "LogisticRegression",
    "Prequential",
    "PrequentialGD",
    "PrequentialLeastSquares",
    "PrequentialLogistic",
    "PrequentialRLS",
    "RecursiveLeastSquares",
    "SoftmaxRegression",
]
