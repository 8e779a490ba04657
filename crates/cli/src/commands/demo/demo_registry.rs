//! The demo's registry: one device and one asset, written as the YAML a user would write.

use std::path::Path;

/// Writes `devices/demo-gateway.yaml` and `assets/demo-line.yaml` below `dir`, the device
/// pointing at `address` (the simulated device).
///
/// The asset has a dataset that reads every event of `/api/readings`, and an event group on
/// `/events` whose events are picked by their SSE event type.
///
/// # Errors
/// When the files cannot be written.
pub fn write(dir: &Path, address: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("devices"))?;
    std::fs::create_dir_all(dir.join("assets"))?;
    std::fs::write(dir.join("devices/demo-gateway.yaml"), device(address))?;
    std::fs::write(dir.join("assets/demo-line.yaml"), ASSET)
}

fn device(address: &str) -> String {
    format!(
        "# The simulated device of `sse-connector demo`.
apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Device
metadata:
  name: demo-gateway
spec:
  enabled: true
  endpoints:
    inbound:
      sse:
        endpointType: Microsoft.SSEHttp
        address: {address}
        authentication:
          method: Anonymous
"
    )
}

const ASSET: &str = "# A production line: its environment readings as a dataset, its door and
# alarm events as an event group.
apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata:
  name: demo-line
spec:
  deviceRef:
    deviceName: demo-gateway
    endpointName: sse
  datasets:
    - name: environment
      dataSource: /api/readings
      destinations:
        - target: Mqtt
          configuration:
            topic: demo/line/environment
            qos: Qos1
  eventGroups:
    - name: floor
      dataSource: /events
      defaultDestinations:
        - target: Mqtt
          configuration:
            topic: demo/line/events
            qos: Qos1
      events:
        - name: door
          dataSource: door
        - name: alarm
          dataSource: alarm
          destinations:
            - target: Mqtt
              configuration:
                topic: demo/line/alarms
                qos: Qos1
                retain: Keep
";
