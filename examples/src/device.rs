//! `--device`: which devices this build can run on, and the one-line error for the others.

use argus_vision::Device;

use crate::exit::UserError;

/// Parses `--device` (`auto`, `cpu`, `cuda`, `cuda:N`, `metal`).
pub(crate) fn parse_device(text: &str) -> Result<Device, String> {
    text.parse()
}

/// The device to load on: `auto` becomes the accelerator this build has (CPU without one);
/// a device whose feature the build lacks is a usage error naming the feature to build with.
pub(crate) fn resolve(device: Device) -> Result<Device, UserError> {
    if let (false, Some(feature)) = (device.is_compiled(), device.feature()) {
        return Err(UserError::usage(format!(
            "--device {device}: this argus was built without GPU support for it; build with \
             `cargo build --release -p argus-examples --bin argus --features {feature}`"
        )));
    }
    Ok(device.resolve())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_and_auto_is_the_cpu_in_a_cpu_build() {
        assert_eq!(parse_device("cpu").unwrap(), Device::Cpu);
        assert_eq!(parse_device("CUDA").unwrap(), Device::Cuda(0));
        assert_eq!(parse_device("cuda:1").unwrap(), Device::Cuda(1));
        assert_eq!(parse_device("metal").unwrap(), Device::Metal);
        assert!(parse_device("tpu").is_err());
        assert!(parse_device("cuda:x").is_err());
        if !cfg!(any(feature = "cuda", feature = "metal")) {
            assert_eq!(resolve(Device::Auto).unwrap(), Device::Cpu);
            let error = resolve(Device::Cuda(0)).unwrap_err().to_string();
            assert!(error.contains("--features cuda"), "{error}");
        }
    }
}
