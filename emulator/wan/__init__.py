"""The SMWAN: the hub's MQTT link (``link.py``, with the topic layout) and the head-end's
(``headend.py``)."""

from .headend import WanHeadEnd
from .link import Broker, HubLink, down_topic, up_topic

__all__ = ["Broker", "HubLink", "WanHeadEnd", "down_topic", "up_topic"]
