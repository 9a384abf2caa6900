"""Model parameter sets are data: KA 3D/2D values, files, bad input."""

import numpy as np
import pytest

from pelsim.errors import InputError
from pelsim.models import load_model, species_counts


def test_ka3d_parameters():
    m = load_model("ka3d")
    assert m.dim == 3 and m.symbols == ("Ni", "P") and m.fractions == (0.8, 0.2)
    np.testing.assert_allclose(m.eps, [[1.0, 1.5], [1.5, 0.5]])
    np.testing.assert_allclose(m.sigma, [[1.0, 0.8], [0.8, 0.88]])
    np.testing.assert_allclose(m.rc, 2.5 * m.sigma)
    assert m.density == 1.2
    assert abs(m.box_length(1000) ** 3 * 1.2 - 1000) < 1e-9


def test_ka2d_and_counts():
    m = load_model("ka2d")
    assert m.dim == 2 and m.fractions == (0.65, 0.35)
    assert list(species_counts(m, 1000)) == [650, 350]
    assert species_counts(load_model("ka3d"), 257).sum() == 257


def test_model_from_file(tmp_path):
    p = tmp_path / "wahn.toml"
    p.write_text(
        'name="x"\ndim=3\nsymbols=["A","B"]\nfractions=[0.5,0.5]\nepsilon=[[1,1],[1,1]]\n'
        "sigma=[[1,1.1],[1.1,1.2]]\ndensity=1.0\n"
    )
    assert load_model(p).sigma[1, 1] == 1.2
    p.write_text(
        'name="x"\ndim=3\nsymbols=["A","B"]\nfractions=[0.5,0.5]\nepsilon=[[1,2],[1,1]]\n'
        "sigma=[[1,1],[1,1]]\ndensity=1.0\n"
    )
    with pytest.raises(InputError, match="symmetric"):
        load_model(p)


def test_bad_names():
    with pytest.raises(InputError, match="unknown model"):
        load_model("ka4d")
    with pytest.raises(InputError, match="not found"):
        load_model("/nonexistent/model.toml")
    with pytest.raises(InputError, match="unknown symbol"):
        load_model("ka3d").species_index("Fe")
