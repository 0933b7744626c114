//! `google.rpc.RetryInfo` on retryable gRPC errors, so OTLP exporters back off as told.

use prost::Message;
use tonic::{Code, Status};
use tracecore_proto::google_rpc::{
    Any, Duration as ProtoDuration, RETRY_INFO_TYPE_URL, RetryInfo, Status as RpcStatus,
};

/// A status with a `RetryInfo` detail asking the client to wait `retry_after_seconds`.
pub fn status_with_retry_info(code: Code, message: String, retry_after_seconds: u64) -> Status {
    let retry = RetryInfo {
        retry_delay: Some(ProtoDuration {
            seconds: retry_after_seconds as i64,
            nanos: 0,
        }),
    };
    let details = RpcStatus {
        code: code as i32,
        message: message.clone(),
        details: vec![Any {
            type_url: RETRY_INFO_TYPE_URL.to_string(),
            value: retry.encode_to_vec(),
        }],
    };
    Status::with_details(code, message, details.encode_to_vec().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_carry_the_retry_delay() {
        let status = status_with_retry_info(Code::ResourceExhausted, "full".to_string(), 3);
        let details = RpcStatus::decode(status.details()).unwrap();
        assert_eq!(details.code, Code::ResourceExhausted as i32);
        assert_eq!(
            details.details[0].type_url,
            "type.googleapis.com/google.rpc.RetryInfo"
        );
        let retry = RetryInfo::decode(details.details[0].value.as_slice()).unwrap();
        assert_eq!(retry.retry_delay.unwrap().seconds, 3);
    }
}
