"""Correlated randomness: what each party expands from its seed, and the dealer's corrections.

Every kind of correlation is a list of :class:`Field` s per party. A party ``r >= 1`` expands
all of its fields from ``PRG(seed_r, counter)``. Party 0 expands its uniform fields the same
way, and receives its *corrected* fields from the dealer: the values that make the shares
correlated (for a Beaver triple, ``c_0 = a*b - sum_{r>=1} c_r``). The dealer holds every seed,
expands the same streams, and computes the corrections with :meth:`Correlation.deal`.

So the other parties receive nothing but their seed, and party 0 receives, per request, only
values masked by other parties' streams: no single message reveals ``a``, ``b`` or ``c``.

Kinds (params are public metadata: shapes and op names):

=========  =================================================================================
beaver     a, b, c = op(a, b) for a bilinear op (mul, matmul, conv2d, conv2d gradients)
square     a, c = a * a
trunc      r, q = floor(r_u / d) (r read as unsigned): division pairs for truncation
and        a, b, c = a & b on XOR-shared 64-bit words
radix      masks and subset products for one level of a radix-r carry tree
xplanes2   two parties: masks of each party's bit planes, and the 156 cross products
dabit      a random bit r as XOR shares (rb) and as arithmetic shares (ra)
bitmul     a dabit plus a, and ra_a = r * a: multiplies a secret by a secret bit in one round
=========  =================================================================================
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import torch

from unseen.errors import ProtocolError
from unseen.mpc import ring
from unseen.mpc.prg import PRG

__all__ = ["Field", "Correlation", "CORRELATIONS", "expand"]


@dataclass(frozen=True)
class Field:
    name: str
    shape: tuple[int, ...]
    fmt: str = "ring"  # "ring": uniform int64 words; "bit": uniform {0, 1} as int64
    corrected: bool = False

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def words(self) -> int:
        return self.numel if self.fmt == "ring" else -(-self.numel // 8)


def expand(
    prg: PRG, counter: int, fields: list[Field], *, skip_corrected: bool, device: torch.device
) -> dict[str, torch.Tensor]:
    """The fields a party draws from stream ``counter`` of its PRG (CPU stream, then ``device``)."""
    todo = [f for f in fields if not (skip_corrected and f.corrected)]
    flat = prg.words(counter, [f.words() for f in todo])
    out = {}
    for f, w in zip(todo, flat):
        if f.fmt == "ring":
            t = w.view(f.shape)
        else:
            t = (w.view(torch.uint8)[: f.numel] & 1).to(torch.int64).view(f.shape)
        out[f.name] = t.to(device) if device.type != "cpu" else t
    return out


def _shape(params: dict[str, Any], key: str = "shape") -> tuple[int, ...]:
    return tuple(int(d) for d in params[key])


def _sum(parts: list[dict[str, torch.Tensor]], name: str) -> torch.Tensor:
    """The sum of every party's field (accumulated in place into party 0's fresh tensor)."""
    acc = parts[0][name]
    for p in parts[1:]:
        acc = acc.add_(p[name]) if acc.shape == p[name].shape else acc + p[name]
    return acc


def _xor(parts: list[dict[str, torch.Tensor]], name: str) -> torch.Tensor:
    acc = parts[0][name]
    for p in parts[1:]:
        acc = acc.bitwise_xor_(p[name])
    return acc


def _correct_sum(
    total: torch.Tensor, parts: list[dict[str, torch.Tensor]], name: str
) -> torch.Tensor:
    """Party 0's share of ``total``: ``total`` minus the other parties' fields (in place)."""
    for p in parts[1:]:
        total = total.sub_(p[name])
    return total


def _correct_xor(
    total: torch.Tensor, parts: list[dict[str, torch.Tensor]], name: str
) -> torch.Tensor:
    for p in parts[1:]:
        total = total.bitwise_xor_(p[name])
    return total


class Correlation(ABC):
    """One kind of correlated randomness."""

    @abstractmethod
    def fields(self, params: dict[str, Any], rank: int, world: int) -> list[Field]:
        """The fields of party ``rank``; those marked corrected come from the dealer for rank 0."""

    @abstractmethod
    def deal(
        self, params: dict[str, Any], parts: list[dict[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        """Party 0's corrected fields, from every party's expanded fields."""


class Beaver(Correlation):
    def fields(self, params: dict[str, Any], rank: int, world: int) -> list[Field]:
        out_shape = ring.shape_of(params["op"], params["a"], params["b"], params.get("p", {}))
        return [
            Field("a", _shape(params, "a")),
            Field("b", _shape(params, "b")),
            Field("c", out_shape, corrected=True),
        ]

    def deal(
        self, params: dict[str, Any], parts: list[dict[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        c = ring.bilinear(params["op"], _sum(parts, "a"), _sum(parts, "b"), params.get("p", {}))
        return {"c": _correct_sum(c, parts, "c")}


class Square(Correlation):
    def fields(self, params: dict[str, Any], rank: int, world: int) -> list[Field]:
        s = _shape(params)
        return [Field("a", s), Field("c", s, corrected=True)]

    def deal(
        self, params: dict[str, Any], parts: list[dict[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        a = _sum(parts, "a")
        return {"c": _correct_sum(a * a, parts, "c")}


class Trunc(Correlation):
    def fields(self, params: dict[str, Any], rank: int, world: int) -> list[Field]:
        s = _shape(params)
        return [Field("r", s), Field("q", s, corrected=True)]

    def deal(
        self, params: dict[str, Any], parts: list[dict[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        q = ring.udiv(_sum(parts, "r"), int(params["d"]))
        return {"q": _correct_sum(q, parts, "q")}


class And(Correlation):
    def fields(self, params: dict[str, Any], rank: int, world: int) -> list[Field]:
        s = _shape(params)
        return [Field("a", s), Field("b", s), Field("c", s, corrected=True)]

    def deal(
        self, params: dict[str, Any], parts: list[dict[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        return {"c": _correct_xor(_xor(parts, "a") & _xor(parts, "b"), parts, "c")}


@functools.lru_cache(maxsize=64)
def radix_structure(
    r: int, need_p: bool
) -> tuple[int, list[tuple[int, ...]], list[tuple[int, ...]]]:
    """One radix-``r`` carry-tree combination of groups 0..r-1 (0 lowest)::

        G = G_{r-1} ^ XOR_{j < r-1} G_j & P_{j+1} & ... & P_{r-1},    P = P_0 & ... & P_{r-1}

    Inputs, in order: G_0..G_{r-2}, P_1..P_{r-1}, then P_0 if ``need_p``. Returns the number
    of inputs, the product terms (tuples of input indices; the P term last when needed) and
    every subset of size >= 2 of some term, whose mask products the dealer supplies."""
    g = list(range(r - 1))
    p = {q: r - 2 + q for q in range(1, r)}
    k = 2 * r - 2
    terms = [tuple([g[j]] + [p[q] for q in range(j + 1, r)]) for j in range(r - 1)]
    if need_p:
        p[0] = k
        k += 1
        terms.append(tuple(sorted(p[q] for q in range(r))))
    subsets: set[tuple[int, ...]] = set()
    for t in terms:
        for mask in range(1, 1 << len(t)):
            sub = tuple(t[i] for i in range(len(t)) if mask >> i & 1)
            if len(sub) >= 2:
                subsets.add(sub)
    return k, terms, sorted(subsets, key=lambda s: (len(s), s))


class RadixLevel(Correlation):
    """Masks for the inputs of a radix-r tree level and XOR shares of their subset products."""

    def fields(self, params: dict[str, Any], rank: int, world: int) -> list[Field]:
        s = _shape(params)
        k, _, subsets = radix_structure(int(params["r"]), bool(params["p"]))
        return [Field("a", (k, *s)), Field("c", (len(subsets), *s), corrected=True)]

    def deal(
        self, params: dict[str, Any], parts: list[dict[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        _, _, subsets = radix_structure(int(params["r"]), bool(params["p"]))
        a = _xor(parts, "a")
        memo: dict[tuple[int, ...], torch.Tensor] = {(i,): a[i] for i in range(a.shape[0])}
        for sub in subsets:  # sorted by size: every prefix is known
            memo[sub] = memo[sub[:-1]] & a[sub[-1]]
        products = torch.stack([memo[sub] for sub in subsets])
        return {"c": _correct_xor(products, parts, "c")}


def cross_products(
    alpha: torch.Tensor, alpha2: torch.Tensor, beta: torch.Tensor, beta2: torch.Tensor
) -> torch.Tensor:
    """The mask products of the two-party first adder round (see binary.py), stacked:
    hi&hi, pair&lo, lo&pair, hi&lo, lo&hi for the 31 plane pairs, then plane 62 & plane 62."""
    hi, lo = slice(1, 62, 2), slice(0, 62, 2)
    return torch.cat(
        [
            alpha[hi] & beta[hi],
            alpha2 & beta[lo],
            alpha[lo] & beta2,
            alpha[hi] & beta[lo],
            alpha[lo] & beta[hi],
            alpha[62:63] & beta[62:63],
        ]
    )


class CrossPlanes2(Correlation):
    """Two parties: masks for party 0's and party 1's bit planes and their products."""

    def fields(self, params: dict[str, Any], rank: int, world: int) -> list[Field]:
        if world != 2:
            raise ProtocolError("xplanes2 correlations exist for two parties only")
        w = int(params["w"])
        return [Field("m", (63, w)), Field("m2", (31, w)), Field("c", (156, w), corrected=True)]

    def deal(
        self, params: dict[str, Any], parts: list[dict[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        p0, p1 = parts
        return {"c": cross_products(p0["m"], p0["m2"], p1["m"], p1["m2"]) ^ p1["c"]}


class DaBit(Correlation):
    def fields(self, params: dict[str, Any], rank: int, world: int) -> list[Field]:
        s = _shape(params)
        return [Field("rb", s, "bit"), Field("ra", s, corrected=True)]

    def deal(
        self, params: dict[str, Any], parts: list[dict[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        return {"ra": _correct_sum(_xor(parts, "rb"), parts, "ra")}


class BitMul(Correlation):
    def fields(self, params: dict[str, Any], rank: int, world: int) -> list[Field]:
        s = _shape(params)
        return [
            Field("rb", s, "bit"),
            Field("a", s),
            Field("ra", s, corrected=True),
            Field("ra_a", s, corrected=True),
        ]

    def deal(
        self, params: dict[str, Any], parts: list[dict[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        r = _xor(parts, "rb")
        ra_a = _correct_sum(r * _sum(parts, "a"), parts, "ra_a")
        return {"ra": _correct_sum(r, parts, "ra"), "ra_a": ra_a}  # r is overwritten last


CORRELATIONS: dict[str, Correlation] = {
    "beaver": Beaver(),
    "square": Square(),
    "trunc": Trunc(),
    "and": And(),
    "radix": RadixLevel(),
    "xplanes2": CrossPlanes2(),
    "dabit": DaBit(),
    "bitmul": BitMul(),
}
