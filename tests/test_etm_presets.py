"""Presets: every parameter table of the seed paper round-trips from the data files.

The expected numbers below are typed from the paper (Tables 1-8, 10, 11, 14), not read
from the files; the Fe concentrations are also checked against the paper's own ppm
conversion, Eq. (98), with the molar masses of Eqs. (99), (100) and Table 14.
"""

import math

import pytest

from etm.errors import InputError
from etm.params import ATSParams
from etm.presets import describe_materials, get_preset, material_names, preset_values, raw_tables

N_A = 6.022e23  # as used in Eqs. (99, 100)

# (preset, parameter, printed value, printed unit) typed from the paper
TYPED = [
    # Table 1 (BAS, C_p concentrations)
    ("BAS-cp-concentrations", "n_fe2", 1.06e17, "g^-1"),
    ("BAS-cp-concentrations", "n_fe3", 5.00e16, "g^-1"),
    ("BAS-cp-concentrations", "Pn", 5.19e16, "g^-1"),
    # Table 2 (BAS, C_p tunneling parameters)
    ("BAS-cp-0.60K", "D_min", 0.49, "K"),
    ("BAS-cp-0.60K", "D0min_qS", 4.77e4, "K A^2"),
    ("BAS-cp-0.90K", "D0max_qS", 2.90e5, "K A^2"),
    ("BAS-cp-1.36K", "D_min", 0.55, "K"),
    ("BAS-cp-1.36K", "D0min_qS", 5.95e4, "K A^2"),
    # Table 3 (Duran, C_p concentrations)
    ("Duran-cp-concentrations", "n_fe2", 3.21e17, "g^-1"),
    ("Duran-cp-concentrations", "n_fe3", 2.11e17, "g^-1"),
    ("Duran-cp-concentrations", "Pn", 8.88e16, "g^-1"),
    # Table 4 (Duran, C_p tunneling parameters)
    ("Duran-cp-1.11K", "D0max_qS", 2.68e5, "K A^2"),
    ("Duran-cp-1.23K", "D_min", 0.32, "K"),
    ("Duran-cp-1.23K", "D0min_qS", 5.30e4, "K A^2"),
    ("Duran-cp-1.36K", "D0min_qS", 5.54e4, "K A^2"),
    ("Duran-cp-1.36K", "D0max_qS", 2.46e5, "K A^2"),
    # Table 5 (dielectric constant)
    ("BK7-eps-15mK", "amplitude", 0.089e-5, "K"),
    ("BK7-eps-15mK", "D0min_qS", 1.668e5, "K A^2"),
    ("Duran-eps-15mK", "D_min", 0.021, "K"),
    ("BAS-eps-50mK", "D0max_qS", 3.080e5, "K A^2"),
    ("BAS-eps-94mK", "amplitude", 3.75e-5, "K"),
    ("BAS-eps-120mK", "D_min", 0.0227, "K"),
    ("BAS-eps-120mK", "D0min_qS", 1.767e5, "K A^2"),
    # Table 6 (SiO2+xCyHz)
    ("SiOCH-eps-50mK", "D0min_qS", 0.076e3, "K A^2"),
    ("SiOCH-eps-70mK", "amplitude", 12.22e-5, "K"),
    ("SiOCH-eps-100mK", "D0max_qS", 7.616e4, "K A^2"),
    # Table 7 (dielectric loss)
    ("BAS-loss-77mK", "Gamma", 5.0e9, "(s K^5)^-1"),
    ("BAS-loss-88mK", "amplitude", 1.35e-5, "K"),
    ("BAS-loss-96mK", "D_min", 0.0213, "K"),
    ("BK7-loss-15mK", "D0min_qS", 0.69e3, "K A^2"),
    ("BK7-loss-15mK", "D0max_qS", 0.66e4, "K A^2"),
    ("BK7-loss-15mK", "Gamma", 3.34e9, "(s K^5)^-1"),
    # Table 8 (echo)
    ("BAS1-echo", "D_min", 17.74, "mK"),
    ("BAS1-echo", "Gamma", 9.22e6, "(us K^5)^-1"),
    ("BAS2-echo", "D0max_qS", 8.96e3, "K A^2"),
    ("BAS2-echo", "c_ats", 3.825, "(us K)^-1"),
    ("BK7-echo-1.5us", "p1F0", 0.60, "D kV m^-1"),
    ("BK7-echo-6us", "D0min_qS", 0.89e3, "K A^2"),
    ("BK7-echo-6us", "tan_omega_dtau", 0.204, "1"),
    # Table 10 (BAS, magnetization)
    ("BAS-M", "n_fe2", 1.08e17, "g^-1"),
    ("BAS-M", "D_min", 8.01e-2, "K"),
    ("BAS-M", "B_star", 1.02, "T"),
    ("BAS-M", "E0", 0.42, "K"),
    ("BAS-M", "M_offset", -1.04e-5, "A m^2 g^-1"),
    # Table 11 (Duran, magnetization)
    ("Duran-M", "n_fe3", 2.13e17, "g^-1"),
    ("Duran-M", "Pn", 8.68e16, "g^-1"),
    ("Duran-M", "D0min_qS", 2.00e5, "K A^2"),
    ("Duran-M", "D0max_qS", 2.81e5, "K A^2"),
    ("Duran-M", "B_star", 1.63, "T"),
    ("Duran-M", "M_offset", -1.97e-5, "A m^2 g^-1"),
    # Table 14 (BK7, magnetization)
    ("BK7-M", "n_fe2", 6.69e15, "g^-1"),
    ("BK7-M", "Pn", 1.40e16, "g^-1"),
    ("BK7-M", "D0min_qS", 8.87e4, "K A^2"),
    ("BK7-M", "B_star", 1.30, "T"),
    ("BK7-M", "E0", 0.48, "K"),
]


def test_every_table_is_present():
    assert set(raw_tables()) == {1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 14}
    counts = {t: len(d["record"]) for t, d in raw_tables().items()}
    # rows per table as printed
    assert counts == {1: 1, 2: 3, 3: 1, 4: 3, 5: 5, 6: 3, 7: 4, 8: 4, 10: 1, 11: 1, 14: 1}


@pytest.mark.parametrize("name,param,value,unit", TYPED)
def test_printed_values_round_trip(name, param, value, unit):
    p = get_preset(name)
    entry = p.printed[param]
    assert entry["value"] == pytest.approx(value, rel=1e-12)
    assert entry["unit"] == unit


def test_conversion_to_etm_units():
    # mK -> K, (us K^5)^-1 -> (s K^5)^-1, (us K)^-1 -> (s K)^-1; K A^2 and K unchanged
    v = preset_values("BAS2-echo")
    assert v["D_min"] == pytest.approx(0.02720)
    assert v["Gamma"] == pytest.approx(2.57e5 * 1e6)
    assert v["c_ats"] == pytest.approx(3.825e6)
    assert v["D0min_qS"] == pytest.approx(1.14e3)
    assert preset_values("BAS-eps-94mK")["D0max_qS"] == pytest.approx(1.589e5)


def test_records_carry_table_glass_observable_temperature():
    for name in material_names():
        p = get_preset(name)
        assert p.table and p.glass and p.observable
        assert p.temperature is not None
        for pname, entry in p.printed.items():
            assert "unit" in entry and math.isfinite(entry["value"]), (name, pname)
    # tables printing D0 q S in K^2 record that, the text's unit is K A^2
    for name in ("BK7-eps-15mK", "SiOCH-eps-70mK", "BK7-loss-15mK"):
        e = get_preset(name).printed["D0min_qS"]
        assert e["unit"] == "K A^2" and e["printed_unit"] == "K^2"
    assert get_preset("BAS-eps-120mK").temperature == pytest.approx(0.120)
    assert get_preset("Duran-cp-1.11K").temperature == pytest.approx(1.11)


def test_cp_presets_carry_the_concentrations_of_tables_1_and_3():
    v = preset_values("BAS-cp-0.60K")
    assert (v["Pn"], v["n_fe2"], v["n_fe3"]) == (5.19e16, 1.06e17, 5.00e16)
    v = preset_values("Duran-cp-1.36K")
    assert (v["Pn"], v["n_fe2"], v["n_fe3"]) == (8.88e16, 3.21e17, 2.11e17)
    assert get_preset("Duran-cp-1.36K").table == (4, 3)


@pytest.mark.parametrize(
    "name,molar_mass",
    [("BAS-cp-concentrations", 80.530), ("Duran-cp-concentrations", 61.873), ("BK7-M", 63.530)],
)
def test_ppm_columns_follow_eq98(name, molar_mass):
    """n_J [1/g] = nbar_J N_A / sum_i xi_i A_i (Eq. 98): the table's two columns agree to ~1 %."""
    p = get_preset(name)
    for key in ("n_fe2", "n_fe3"):
        e = p.printed[key]
        per_g = e["ppm"] * 1e-6 * N_A / molar_mass
        assert per_g == pytest.approx(e["value"], rel=0.012), (name, key)


def test_cutoffs_are_ordered_and_valid():
    for name in material_names():
        v = preset_values(name)
        if "D_min" in v:
            p = get_preset(name).ats_params()
            assert isinstance(p, ATSParams) and p.D0min_qS < p.D0max_qS


def test_unknown_material_and_incomplete_preset():
    with pytest.raises(InputError, match="unknown material"):
        get_preset("Pyrex-cp-1K")
    with pytest.raises(InputError, match="BAS-cp-0.90K"):  # close match offered
        get_preset("BAS-cp-0.9K")
    with pytest.raises(InputError, match="D_min"):
        get_preset("BAS-cp-concentrations").ats_params()


def test_describe_materials_lists_every_preset():
    rows = describe_materials()
    assert [r["name"] for r in rows] == material_names()
    assert len(rows) == 27
