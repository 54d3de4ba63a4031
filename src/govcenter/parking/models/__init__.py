from .tariff import AreaClass, TariffPlan, VehicleClass

__all__ = ["AreaClass", "TariffPlan", "VehicleClass"]
