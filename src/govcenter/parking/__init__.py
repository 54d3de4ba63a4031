"""Road parking electronic toll (道路停车电子收费): base data, devices, tariffs, orders,
payment, citizen services, arrears, complaints, permits and statistics."""
