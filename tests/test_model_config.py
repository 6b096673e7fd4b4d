"""Model configs survive a JSON round trip (tuples included) and name unknown fields."""

from __future__ import annotations

import json

import pytest

from wholebody.models.dope.network import DopeConfig
from wholebody.models.zoomnet.hrnet133 import HRNet133Config
from wholebody.models.zoomnet.network import ZoomNetConfig


@pytest.mark.parametrize("config", [ZoomNetConfig(input_size=(128, 96), body_backbone="tiny"),
                                    HRNet133Config(input_size=(64, 48), backbone="tiny"),
                                    DopeConfig(backbone="tiny", anchor_sizes=(16, 32))])
def test_configs_round_trip_through_json(config):
    stored = json.loads(json.dumps(config.to_dict()))  # tuples come back as lists
    again = type(config).from_dict(stored)
    assert again == config
    assert all(type(getattr(again, name)) is type(getattr(config, name)) for name in stored)


@pytest.mark.parametrize("cls", [ZoomNetConfig, HRNet133Config, DopeConfig])
def test_unknown_fields_are_named(cls):
    with pytest.raises(ValueError, match=rf"unknown {cls.__name__} fields \['bogus'\]"):
        cls.from_dict({"bogus": 1})
