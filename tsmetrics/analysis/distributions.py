"""Student's t and chi-squared distributions in pure Python: no scipy at run time.

Both come from the regularized incomplete beta and gamma functions (continued
fractions, plus an asymptotic expansion for the large degrees of freedom that
millions of samples give). tests/analysis/test_stats.py checks them against scipy to
far better than 1e-9 relative.
"""

from __future__ import annotations

import math
from fractions import Fraction
from statistics import NormalDist

_EPS = 1e-16
_TINY = 1e-300
_LARGE_A = 30.0  # from here on lnΓ differences use Stirling's series, and t tails the expansion
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)
# B_2k / (2k (2k - 1)), the coefficients of Stirling's series in 1/z.
_STIRLING = tuple(b / ((2 * k + 2) * (2 * k + 1)) for k, b in enumerate(_BERNOULLI))


def _stirling_tail(z: float) -> float:
    # lnΓ(z) minus its leading terms: sum of B_2k / (2k (2k-1) z^(2k-1)), for z >= 10.
    w, total = 1.0 / (z * z), 0.0
    for coefficient in reversed(_STIRLING):
        total = total * w + coefficient
    return total / z


def _lgamma_ratio(a: float, b: float) -> float:
    """ln Γ(a+b) - ln Γ(a), without the cancellation of two huge lgamma values."""
    if a < 10:
        return math.lgamma(a + b) - math.lgamma(a)
    return (
        b * math.log(a)
        + (a + b - 0.5) * math.log1p(b / a)
        - b
        + _stirling_tail(a + b)
        - _stirling_tail(a)
    )


def _beta_cf(a: float, b: float, x: float, y: float) -> float:
    # Continued fraction of I_x(a, b) (modified Lentz); y = 1 - x.
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    result = d
    for m in range(1, 100_000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            result *= c * d
        if abs(c * d - 1.0) < _EPS:
            return result
    raise ArithmeticError("incomplete beta continued fraction did not converge")


def _half_series_coefficients(count: int) -> tuple[float, ...]:
    # Taylor coefficients of ((1 - e^-u) / u) ** -1/2, exact as fractions first.
    g = [Fraction((-1) ** j, math.factorial(j + 1)) for j in range(count)]
    power = Fraction(-1, 2)
    c = [Fraction(1)]
    for k in range(1, count):
        c.append(sum(((power + 1) * j - k) * g[j] * c[k - j] for j in range(1, k + 1)) / k)
    return tuple(float(v) for v in c)


_HALF_COEFFICIENTS = _half_series_coefficients(40)


def _ibeta_half_large(a: float, ln_x: float) -> float:
    # I_x(a, 1/2) for large a and x >= 1/e: with x = e^-u the integrand is
    # e^(-a u) u^(-1/2) times a power series in u, so the integral is a sum of
    # incomplete gamma functions with rapidly shrinking weights (a BGRAT-like
    # expansion). This avoids the continued fraction's O(sqrt(a)) steps.
    b = 0.5
    z = -a * ln_x
    scale = math.exp(
        (a + b - 0.5) * math.log1p(b / a) - b + _stirling_tail(a + b) - _stirling_tail(a)
    )
    q = math.erfc(math.sqrt(z))  # Q(1/2, z)
    step = math.exp(b * math.log(z) - z - math.lgamma(b + 1)) if z > 0 else 0.0
    total, weight = 0.0, 1.0
    for k, coefficient in enumerate(_HALF_COEFFICIENTS):
        term = coefficient * weight * q
        total += term
        if abs(term) <= _EPS * abs(total) * 0.01:  # also ends a tail past the float range
            return scale * total
        weight *= (b + k) / a
        q += step  # Q(s + 1, z) = Q(s, z) + z^s e^-z / Γ(s + 1)
        step *= z / (b + k + 1)
    raise ArithmeticError("incomplete beta expansion did not converge")


def _student_tail(t2: float, df: float) -> float:
    """I_x(df/2, 1/2) with x = df / (df + t²): twice the upper tail of Student's t."""
    a, b = df / 2, 0.5
    ln_x = -math.log1p(t2 / df)  # the logs come from log1p: no digits lost near x = 1
    if a >= _LARGE_A and ln_x >= -1:
        return _ibeta_half_large(a, ln_x)
    ln_y = -math.log1p(df / t2)
    x, y = df / (df + t2), t2 / (df + t2)
    ln_beta = math.lgamma(b) - _lgamma_ratio(a, b)
    front = math.exp(a * ln_x + b * ln_y - ln_beta)
    if x < (a + 1) / (a + b + 2):
        return front * _beta_cf(a, b, x, y) / a
    return 1.0 - front * _beta_cf(b, a, y, x) / b


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with `df` degrees of freedom (df > 0, not necessarily whole)."""
    if not df > 0 or math.isnan(t):
        raise ValueError("t_sf needs df > 0 and a number t")
    if t == 0:
        return 0.5
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    upper = 0.5 * _student_tail(t * t, df)
    return upper if t > 0 else 1.0 - upper


def t_pdf(t: float, df: float) -> float:
    """The density of Student's t at t."""
    return math.exp(
        _lgamma_ratio(df / 2, 0.5)
        - 0.5 * math.log(df * math.pi)
        - (df + 1) / 2 * math.log1p(t * t / df)
    )


def t_isf(p: float, df: float) -> float:
    """The t with P(T > t) = p: Newton steps on log P(T > t) from a Cornish-Fisher start."""
    if not 0 < p < 1 or not df > 0:
        raise ValueError("t_isf needs 0 < p < 1 and df > 0")
    if p > 0.5:
        return -t_isf(1.0 - p, df)
    if p == 0.5:
        return 0.0
    z = -NormalDist().inv_cdf(p)
    t = z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
    low, high, log_p = 0.0, math.inf, math.log(p)
    for _ in range(200):
        upper = t_sf(t, df)
        if upper > p:
            low = t
        else:
            high = t
        if upper == p:
            return t
        following = math.nan
        if upper > 0:
            following = t + (math.log(upper) - log_p) * upper / t_pdf(t, df)
        if not low < following < high:  # a step out of the bracket: bisect instead
            following = (low + high) / 2 if math.isfinite(high) else 2 * t + 1
        if abs(following - t) <= 2e-16 * abs(following):
            return following
        t = following
    return t


def _gamma_q(a: float, x: float) -> float:
    # Regularized upper incomplete gamma Q(a, x): series for P below a + 1,
    # continued fraction (modified Lentz) above.
    if x <= 0:
        return 1.0
    front = math.exp(a * math.log(x) - x - math.lgamma(a))
    if x < a + 1:
        term = total = 1.0 / a
        for n in range(1, 100_000):
            term *= x / (a + n)
            total += term
            if abs(term) < abs(total) * _EPS:
                return 1.0 - front * total
        raise ArithmeticError("incomplete gamma series did not converge")
    b = x + 1 - a
    c, d = 1 / _TINY, 1 / b
    result = d
    for i in range(1, 100_000):
        numerator = -i * (i - a)
        b += 2
        d = numerator * d + b
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = b + numerator / c
        c = c if abs(c) > _TINY else _TINY
        result *= d * c
        if abs(d * c - 1.0) < _EPS:
            return front * result
    raise ArithmeticError("incomplete gamma continued fraction did not converge")


def chi2_sf(x: float, df: float) -> float:
    """P(X > x) for the chi-squared distribution with `df` degrees of freedom."""
    if not df > 0 or math.isnan(x):
        raise ValueError("chi2_sf needs df > 0 and a number x")
    return _gamma_q(df / 2, x / 2)
