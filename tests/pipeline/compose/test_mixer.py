import numpy as np

from pipeline.compose.mixer import CEILING, Limiter, mix


def test_quiet_mix_passes_untouched():
    block = np.full((1024, 2), 0.3, np.float32)
    assert np.array_equal(Limiter().process(mix([block, block], 1024, 2)), block * 2)


def test_loud_mix_never_clips_and_recovers():
    limiter = Limiter()
    rng = np.random.default_rng(1)
    loud = [rng.uniform(-0.9, 0.9, (1024, 2)).astype(np.float32) for _ in range(4)]
    for _ in range(20):
        out = limiter.process(mix(loud, 1024, 2))
        assert np.abs(out).max() <= CEILING + 1e-6
    quiet = np.full((1024, 2), 0.1, np.float32)
    for _ in range(400):
        out = limiter.process(quiet.copy())
        assert np.abs(out).max() <= CEILING + 1e-6
    assert limiter.gain == 1.0
