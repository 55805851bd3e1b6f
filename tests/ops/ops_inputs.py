"""Fixed inputs for the vocabulary cases (small, deterministic, valid for most operations)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

_rng = np.random.default_rng(12345)

# numpy
A = _rng.uniform(0.1, 0.9, (3, 4))
B = _rng.uniform(0.1, 0.9, (3, 4))
V = np.sort(_rng.uniform(0.1, 0.9, 5))
W = np.sort(_rng.uniform(0.1, 0.9, 5))
V4 = _rng.uniform(0.1, 0.9, 4)
I1 = _rng.integers(1, 10, (3, 4))
I2 = _rng.integers(1, 10, (3, 4))
MASK = A > 0.5
_M = _rng.uniform(-1, 1, (3, 3))
SQ = _M @ _M.T + 3 * np.eye(3)
RHS = _rng.uniform(-1, 1, 3)
CPLX = A + 1j * B
SPECIAL = np.array([np.nan, np.inf, -np.inf, 1.5, -0.5])
P3 = np.array([1.0, 2.0, 3.0])
Q3 = np.array([4.0, -5.0, 6.0])

# torch
TA = torch.tensor(A)
TB = torch.tensor(B)
TV = torch.tensor(V)
TW = torch.tensor(W)
TV4 = torch.tensor(V4)
TI1 = torch.tensor(I1)
TI2 = torch.tensor(I2)
TMASK = torch.tensor(MASK)
TSQ = torch.tensor(SQ)
TRHS = torch.tensor(RHS)
TC = torch.tensor(CPLX)
TSPECIAL = torch.tensor(SPECIAL)
TP3 = torch.tensor(P3)
TQ3 = torch.tensor(Q3)
TIDX = torch.tensor([[0, 3], [1, 2], [2, 0]])
X1D = torch.tensor(_rng.uniform(-1, 1, (2, 4, 8)))
X2D = torch.tensor(_rng.uniform(-1, 1, (1, 2, 6, 6)))
LABELS = torch.tensor([0, 3, 1])

# pandas
DF = pd.DataFrame({"a": [1, 2, 3, 4, 2], "b": [0.5, 1.5, np.nan, 3.5, 2.0], "c": [5, 4, 3, 2, 1]})
DF2 = pd.DataFrame({"a": [1, 2, 3], "d": [10.0, 20.0, 30.0]})
S = DF["b"].copy()
SI = DF["a"].copy()
SC = DF["c"].copy()
DFK = pd.DataFrame(
    {"k": ["x", "y", "x", "y", "x"], "v": [1.0, 2.0, 3.0, 4.0, 5.0], "w": [5, 4, 3, 2, 1]}
)
GB = DFK.groupby("k")
SGB = DFK.groupby("k")["v"]
IDX = pd.Index([3, 1, 2, 2])
IDX2 = pd.Index([2, 5])
DFP = pd.DataFrame({"i": [1, 1, 2, 2], "c": ["x", "y", "x", "y"], "v": [1.0, 2.0, 3.0, 4.0]})
DFL = pd.DataFrame({"x": [[1, 2], [3]], "y": [1, 2]})
