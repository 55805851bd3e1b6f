"""Comparisons: A2B conversion on packed XOR shares with a carry tree, and B2A.

The sign of a shared ``x = x_0 + ... + x_{n-1} mod 2^64`` is bit 63 of the sum. Each party's
arithmetic share is already a XOR sharing of itself (the other parties hold 0), so the sum is
computed by a binary adder on XOR shares. Bits are packed 64 elements per int64 word: a
64 x 64 bit transpose per block of 64 elements turns a party's share into 64 *bit planes*
(plane j holds bit j of 64 consecutive elements), so every AND gate acts on 64 elements at
once and a carry tree only computes the planes it needs.

* n = 2: the first round computes the (generate, propagate) pair of every 2-bit group
  directly from the two parties' private planes (five cross products per pair, each one
  masked word each way); then a Brent-Kung tree over the 32 groups (5 rounds) yields the
  carry into bit 63. 6 rounds.
* n > 2: carry-save adders (one AND round each, 3 terms -> 2) reduce the n terms to two;
  one round of generate ``g = A & B``; a tree over 63 single-bit groups (6 rounds).

Tree level: ``G = G_hi ^ (P_hi & G_lo)``, ``P = P_hi & P_lo`` (groups never overlap, so OR
is XOR), both ANDs opened in one message and sharing the mask of ``P_hi``. Dealer AND
correlations come from :mod:`unseen.mpc.correlations`.

:func:`b2a` turns a XOR-shared bit into an arithmetic one with a dealer random bit (one
round); :func:`bit_mul` multiplies a secret by a XOR-shared bit in one round (the B2A opening
and the Beaver opening travel together). Opened bits travel packed, 64 per word.
"""

from __future__ import annotations

import functools

import torch

from unseen.mpc.context import PartyContext
from unseen.mpc.correlations import radix_structure

__all__ = ["and_words", "msb", "b2a", "bit_mul", "ltz", "to_planes", "pack_bits", "unpack_bits"]

_TRANSPOSE_MASKS = {
    32: 0x00000000FFFFFFFF,
    16: 0x0000FFFF0000FFFF,
    8: 0x00FF00FF00FF00FF,
    4: 0x0F0F0F0F0F0F0F0F,
    2: 0x3333333333333333,
    1: 0x5555555555555555,
}


def to_planes(x: torch.Tensor) -> torch.Tensor:
    """Bit planes of the flattened int64 tensor ``x``: shape (64, W), W = ceil(n / 64);
    bit t of ``planes[j, w]`` is bit j of element ``64 w + t`` (zero padding at the end)."""
    flat = x.reshape(-1)
    n = flat.numel()
    w = max(1, -(-n // 64))
    a = torch.zeros(w * 64, dtype=torch.int64, device=x.device)
    a[:n] = flat
    a = a.view(w, 64)
    # A 64 x 64 bit-matrix transpose per block, by recursive swaps of off-diagonal blocks.
    for j, mask in _TRANSPOSE_MASKS.items():
        v = a.view(w, 64 // (2 * j), 2, j)
        top, bot = v[:, :, 0, :], v[:, :, 1, :]
        t = ((top >> j) ^ bot) & mask
        bot ^= t
        top ^= t << j
    return a.t().contiguous()


def unpack_bits(plane: torch.Tensor, n: int) -> torch.Tensor:
    """The first ``n`` bits of packed words, one int64 (0/1) per element."""
    shifts = torch.arange(64, dtype=torch.int64, device=plane.device)
    return ((plane.reshape(-1, 1) >> shifts) & 1).reshape(-1)[:n]


def pack_bits(bits: torch.Tensor) -> torch.Tensor:
    """0/1 int64 values packed 64 per word (the inverse of :func:`unpack_bits`)."""
    flat = bits.reshape(-1)
    n = flat.numel()
    w = max(1, -(-n // 64))
    padded = torch.zeros(w * 64, dtype=torch.int64, device=bits.device)
    padded[:n] = flat
    shifts = torch.arange(64, dtype=torch.int64, device=bits.device)
    return (padded.view(w, 64) << shifts).sum(dim=1)


def and_words(ctx: PartyContext, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """XOR shares of ``x & y`` from XOR shares of two words (one round)."""
    draw = ctx.rand.request("and", {"shape": list(x.shape)})
    a, b = draw["a"], draw["b"]
    _, (d, e) = ctx.open("and", xor=[x ^ a, y ^ b])
    z = draw["c"] ^ (d & b) ^ (e & a)
    return z ^ (d & e) if ctx.is_leader else z


def _first_round_two_party(
    ctx: PartyContext, own: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(G, P) of 32 groups (bits 2i+1..2i, then bit 62 alone) of ``u + v`` where party 0
    holds the planes of ``u`` and party 1 those of ``v``. For a pair (hi, lo)::

        G = u_hi v_hi ^ (u_hi u_lo) v_lo ^ u_lo (v_hi v_lo)
        P = (u_hi u_lo) ^ (v_hi v_lo) ^ u_hi v_lo ^ u_lo v_hi

    Each cross product ``U V`` (U known to party 0, V to party 1) costs one masked word each
    way: ``U V = U (V ^ beta) ^ (U ^ alpha) beta ^ alpha beta`` with ``alpha beta`` XOR-shared
    by the dealer.
    """
    w = own.shape[1]
    draw = ctx.rand.request("xplanes2", {"w": w})
    m, m2 = draw["m"], draw["m2"]
    hi, lo = slice(1, 62, 2), slice(0, 62, 2)
    pair = own[hi] & own[lo]
    got = ctx.exchange("xplanes2", [own[:63] ^ m, pair ^ m2])
    e, e2 = got[1 - ctx.rank]
    c = draw["c"]
    k = 31
    if ctx.rank == 0:  # U values are ours, masked V values came from party 1
        u = own
        x_hh = (u[hi] & e[hi]) ^ c[0:k]
        x_pl = (pair & e[lo]) ^ c[k : 2 * k]
        x_lp = (u[lo] & e2) ^ c[2 * k : 3 * k]
        x_hl = (u[hi] & e[lo]) ^ c[3 * k : 4 * k]
        x_lh = (u[lo] & e[hi]) ^ c[4 * k : 5 * k]
        x_top = (u[62:63] & e[62:63]) ^ c[5 * k :]
    else:  # masked U values came from party 0, V masks are ours
        x_hh = (e[hi] & m[hi]) ^ c[0:k]
        x_pl = (e2 & m[lo]) ^ c[k : 2 * k]
        x_lp = (e[lo] & m2) ^ c[2 * k : 3 * k]
        x_hl = (e[hi] & m[lo]) ^ c[3 * k : 4 * k]
        x_lh = (e[lo] & m[hi]) ^ c[4 * k : 5 * k]
        x_top = (e[62:63] & m[62:63]) ^ c[5 * k :]
    g = torch.cat([x_hh ^ x_pl ^ x_lp, x_top])
    p = torch.cat([pair ^ x_hl ^ x_lh, own[62:63]])
    return g, p


ROUND_OPTIMAL_WORDS = 4096  # planes up to this many words (262144 elements) use few wide levels


def tree_schedule(groups: int, words: int) -> list[int]:
    """Radices of the carry-tree levels: radix 2 (least traffic) for large tensors; for
    small ones the fewest levels with radix at most 8 (32 groups: 4 then 8; 63: 8 then 8)."""
    out = []
    m = groups
    while m > 1:
        if words > ROUND_OPTIMAL_WORDS:
            r = 2
        elif m <= 8:
            r = m
        else:
            r = min(8, max(2, -(-m // 8)))
        out.append(r)
        m = -(-m // r)
    return out


def _xor_reduce(x: torch.Tensor) -> torch.Tensor:
    while x.shape[0] > 1:
        h = x.shape[0] // 2
        x = x[:h] ^ x[h:]
    return x[0]


def _radix_level(
    ctx: PartyContext, g: torch.Tensor, p: torch.Tensor, r: int, need_p: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Combine groups r at a time (one round): G = G_{r-1} ^ XOR_j G_j P_{j+1} .. P_{r-1},
    P = P_0 .. P_{r-1}. Every AND of several shared planes is expanded over the opened masked
    inputs d_i = X_i ^ a_i: prod X_i = XOR over S of (prod_{i not in S} d_i) & (prod_{i in S} a_i),
    with the dealer's XOR shares of the mask products."""
    m, w = g.shape
    combos = -(-m // r)
    if combos * r != m:  # pad the top with identity groups (G = 0, P = 1)
        pad = combos * r - m
        g = torch.cat([g, torch.zeros((pad, w), dtype=g.dtype, device=g.device)])
        ones = torch.full((pad, w), -1 if ctx.is_leader else 0, dtype=p.dtype, device=p.device)
        p = torch.cat([p, ones])
    g = g.view(combos, r, w).transpose(0, 1)  # (r, combos, w)
    p = p.view(combos, r, w).transpose(0, 1)
    k, terms, rows = _level_plan(r, need_p)
    inputs = [g[j] for j in range(r - 1)] + [p[j] for j in range(1, r)] + ([p[0]] if need_p else [])
    x = torch.stack(inputs)  # (k, combos, w)
    draw = ctx.rand.request("radix", {"shape": [combos, w], "r": r, "p": need_p})
    a = draw["a"]
    _, (d,) = ctx.open("radix", xor=[x ^ a])
    fill = -1 if ctx.is_leader else 0  # the public all-ones plane, added by party 0 only
    table = torch.cat(
        [torch.full((1, combos, w), fill, dtype=a.dtype, device=a.device), a, draw["c"]]
    )
    outs = []
    for term, row in zip(terms, rows):
        dp = torch.full((1, combos, w), -1, dtype=d.dtype, device=d.device)
        for i in term:  # dp[mask] = AND of d over the inputs selected by mask
            dp = torch.cat([dp, dp & d[i]])
        picked = table.index_select(0, row.to(a.device))
        outs.append(_xor_reduce(dp.flip(0) & picked))
    new_g = g[r - 1]
    for t in outs[: r - 1]:
        new_g = new_g ^ t
    new_p = outs[-1] if need_p else new_g
    return new_g, new_p


@functools.lru_cache(maxsize=64)
def _level_plan(r: int, need_p: bool) -> tuple[int, list[tuple[int, ...]], list[torch.Tensor]]:
    """The level's terms and, per term, the table row of the mask product of every subset
    (ordered by bit mask over the term's inputs; row 0 is the public all-ones plane)."""
    k, terms, subsets = radix_structure(r, need_p)
    index = {sub: 1 + k + n for n, sub in enumerate(subsets)}
    rows = []
    for term in terms:
        row = []
        for mask in range(1 << len(term)):
            sub = tuple(term[i] for i in range(len(term)) if mask >> i & 1)
            row.append(0 if not sub else 1 + sub[0] if len(sub) == 1 else index[sub])
        rows.append(torch.tensor(row, dtype=torch.int64))
    return k, terms, rows


def _reduce_to_two(ctx: PartyContext, planes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Carry-save adders on bit planes: XOR shares of A, B with A + B = x (n > 2 parties)."""
    zero = torch.zeros_like(planes)
    terms = [planes if r == ctx.rank else zero for r in range(ctx.world)]
    while len(terms) > 2:
        groups = len(terms) // 3
        a = torch.stack([terms[3 * i] for i in range(groups)])
        b = torch.stack([terms[3 * i + 1] for i in range(groups)])
        c = torch.stack([terms[3 * i + 2] for i in range(groups)])
        majority = and_words(ctx, a ^ c, b ^ c) ^ c
        carry = torch.cat([torch.zeros_like(majority[:, :1]), majority[:, :63]], dim=1)  # << 1
        s = a ^ b ^ c
        terms = (
            [s[i] for i in range(groups)] + [carry[i] for i in range(groups)] + terms[3 * groups :]
        )
    return terms[0], terms[1]


def msb(ctx: PartyContext, x: torch.Tensor) -> torch.Tensor:
    """XOR shares (0/1 int64, shape of ``x``) of the top bit of the shared ``x``: x < 0."""
    planes = to_planes(x)
    if ctx.world == 2:
        g, p = _first_round_two_party(ctx, planes)
        top = planes[63]
    else:
        a, b = _reduce_to_two(ctx, planes)
        g = and_words(ctx, a[:63], b[:63])
        p = (a ^ b)[:63]
        top = a[63] ^ b[63]
    schedule = tree_schedule(g.shape[0], g.shape[1])
    for level, r in enumerate(schedule):
        g, p = _radix_level(ctx, g, p, r, need_p=level < len(schedule) - 1)
    sign = top ^ g[0]
    return unpack_bits(sign, x.numel()).view(x.shape)


def _open_bits(
    ctx: PartyContext, name: str, bits: torch.Tensor, arith: list[torch.Tensor]
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Open XOR-shared bits (packed 64 per word) together with arithmetic values."""
    sums, (packed,) = ctx.open(name, arith=arith, xor=[pack_bits(bits)])
    return sums, unpack_bits(packed, bits.numel()).view(bits.shape)


def b2a(ctx: PartyContext, bit: torch.Tensor) -> torch.Tensor:
    """Arithmetic shares (integer scale) of a XOR-shared bit, with a dealer random bit."""
    draw = ctx.rand.request("dabit", {"shape": list(bit.shape)})
    _, c = _open_bits(ctx, "b2a", bit ^ draw["rb"], [])
    out = (1 - 2 * c) * draw["ra"]
    return out + c if ctx.is_leader else out


def bit_mul(
    ctx: PartyContext, bit: torch.Tensor, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x * s, s)`` for a XOR-shared bit ``s`` and a shared ``x`` of the same shape, in one
    round; ``x * s`` keeps the scale of ``x``, ``s`` is returned as integer-scale shares.

    With a dealer random bit r (XOR and arithmetic shares), a mask a and shares of r*a:
    open c = s ^ r and eps = x - a together; then s = c + (1 - 2c) r and
    x s = c x + (1 - 2c)(eps r + r a).
    """
    draw = ctx.rand.request("bitmul", {"shape": list(x.shape)})
    (eps,), c = _open_bits(ctx, "bitmul", bit ^ draw["rb"], [x - draw["a"]])
    flip = 1 - 2 * c
    rx = eps * draw["ra"] + draw["ra_a"]
    xs = c * x + flip * rx
    s = flip * draw["ra"]
    return xs, (s + c if ctx.is_leader else s)


def ltz(ctx: PartyContext, x: torch.Tensor) -> torch.Tensor:
    """Arithmetic shares (integer scale 0/1) of ``x < 0``."""
    return b2a(ctx, msb(ctx, x))
