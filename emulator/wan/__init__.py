"""The SMWAN: the hub's MQTT link (``link.py``, with the topic layout), the emulation's
control plane (``control.py``) and the head-end's end (``headend.py``)."""

from .control import ControlPlane
from .headend import WanHeadEnd
from .link import Broker, HubLink, WanConditions, control_topic, down_topic, state_topic, up_topic

__all__ = ["Broker", "ControlPlane", "HubLink", "WanConditions", "WanHeadEnd", "control_topic", "down_topic",
           "state_topic", "up_topic"]
