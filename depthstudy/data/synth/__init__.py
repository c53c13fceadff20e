"""Internals of SynthRooms: materials, furniture parts, scene layout and the ray caster.

The public interface is :mod:`depthstudy.data.synthrooms`.
"""
