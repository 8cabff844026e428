"""aisre.detect"""
