"""Sparkplug B payloads: the protobuf messages, built at import from a wire-compatible subset of the spec.

Only what a consumer of telemetry reads, and the one command it sends (a rebirth request), is declared:
payload timestamp, sequence and metrics; a metric's name, alias, timestamp, datatype, flags, properties
and scalar value. Protobuf skips the fields it does not know (data sets, templates, metadata), so any
conforming payload decodes; a metric whose value is of such a type arrives without a value and is
rejected as unsupported. Building the descriptor in code needs no protoc and no generated module tied
to one protobuf release.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
PACKAGE = "org.eclipse.tahu.protobuf"


class DataType(IntEnum):
    """Sparkplug B datatypes (spec section 6.4.16), the scalar ones this agent maps onto samples."""

    Int8 = 1
    Int16 = 2
    Int32 = 3
    Int64 = 4
    UInt8 = 5
    UInt16 = 6
    UInt32 = 7
    UInt64 = 8
    Float = 9
    Double = 10
    Boolean = 11
    String = 12
    DateTime = 13
    Text = 14


def _message(name: str, fields: list[tuple[str, int, int, str | None, bool]], oneof: str | None = None
             ) -> descriptor_pb2.DescriptorProto:
    """fields: (name, number, type, message type name or None, repeated); oneof members are flagged below."""
    msg = descriptor_pb2.DescriptorProto(name=name)
    if oneof:
        msg.oneof_decl.add(name=oneof)
    for fname, number, ftype, type_name, repeated in fields:
        field = msg.field.add(name=fname, number=number, type=ftype,
                              label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
        if type_name:
            field.type_name = f".{PACKAGE}.Payload.{type_name}" if type_name != "Payload" else f".{PACKAGE}.Payload"
        if oneof and fname.endswith("_value") and fname != "propertyset_value":
            field.oneof_index = 0
    return msg


def _build() -> tuple[Any, ...]:
    file = descriptor_pb2.FileDescriptorProto(name="factory_twin_sparkplug_b.proto", package=PACKAGE,
                                              syntax="proto2")
    scalars = [("int_value", _F.TYPE_UINT32), ("long_value", _F.TYPE_UINT64), ("float_value", _F.TYPE_FLOAT),
               ("double_value", _F.TYPE_DOUBLE), ("boolean_value", _F.TYPE_BOOL), ("string_value", _F.TYPE_STRING)]
    payload = _message("Payload", [
        ("timestamp", 1, _F.TYPE_UINT64, None, False),
        ("metrics", 2, _F.TYPE_MESSAGE, "Metric", True),
        ("seq", 3, _F.TYPE_UINT64, None, False),
    ])
    payload.nested_type.append(_message("PropertyValue", [
        ("type", 1, _F.TYPE_UINT32, None, False), ("is_null", 2, _F.TYPE_BOOL, None, False),
        *((name, 3 + i, kind, None, False) for i, (name, kind) in enumerate(scalars)),
    ], oneof="value"))
    payload.nested_type.append(_message("PropertySet", [
        ("keys", 1, _F.TYPE_STRING, None, True), ("values", 2, _F.TYPE_MESSAGE, "PropertyValue", True),
    ]))
    payload.nested_type.append(_message("Metric", [
        ("name", 1, _F.TYPE_STRING, None, False), ("alias", 2, _F.TYPE_UINT64, None, False),
        ("timestamp", 3, _F.TYPE_UINT64, None, False), ("datatype", 4, _F.TYPE_UINT32, None, False),
        ("is_historical", 5, _F.TYPE_BOOL, None, False), ("is_transient", 6, _F.TYPE_BOOL, None, False),
        ("is_null", 7, _F.TYPE_BOOL, None, False), ("properties", 9, _F.TYPE_MESSAGE, "PropertySet", False),
        *((name, 10 + i, kind, None, False) for i, (name, kind) in enumerate(scalars)),
        ("bytes_value", 16, _F.TYPE_BYTES, None, False),
    ], oneof="value"))
    file.message_type.append(payload)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    classes = [message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{n}"))
               for n in ("Payload", "Payload.Metric", "Payload.PropertySet", "Payload.PropertyValue")]
    return tuple(classes)


Payload, Metric, PropertySet, PropertyValue = _build()


def metric_value(metric: Any) -> float | int | bool | str | None:
    """The metric's value in Python terms (signed integers restored from their unsigned wire form)."""
    kind = metric.WhichOneof("value")
    if kind is None or metric.is_null:
        return None
    raw = getattr(metric, kind)
    dt = metric.datatype
    if kind == "int_value" and dt in (DataType.Int8, DataType.Int16, DataType.Int32):
        bits = {DataType.Int8: 8, DataType.Int16: 16, DataType.Int32: 32}[DataType(dt)]
        raw &= (1 << bits) - 1
        return raw - (1 << bits) if raw >= 1 << (bits - 1) else raw
    if kind == "long_value" and dt in (DataType.Int64, DataType.Int8, DataType.Int16, DataType.Int32):
        return raw - (1 << 64) if raw >= 1 << 63 else raw
    if kind == "bytes_value":
        return None
    return raw


def property_text(metric: Any, *keys: str) -> str:
    """A string property of the metric (e.g. its engineering unit), or ''."""
    props = metric.properties
    for key in keys:
        if key in props.keys:
            value = props.values[list(props.keys).index(key)]
            if value.WhichOneof("value") == "string_value":
                return str(value.string_value)
    return ""


def rebirth_command(timestamp_ms: int) -> bytes:
    """The NCMD payload asking an edge node to publish its births again (metric Node Control/Rebirth = true)."""
    body = Payload(timestamp=timestamp_ms)
    body.metrics.add(name="Node Control/Rebirth", timestamp=timestamp_ms, datatype=DataType.Boolean,
                     boolean_value=True)
    return bytes(body.SerializeToString())
