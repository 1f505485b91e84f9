// Original file: gateway/grpc/switchyard/v1/payments.proto


export interface PaymentCard {
  'brand'?: (string);
  'last4'?: (string);
  'bin_country'?: (string);
  'exp_month'?: (number);
  'exp_year'?: (number);
  '_bin_country'?: "bin_country";
}

export interface PaymentCard__Output {
  'brand': (string);
  'last4': (string);
  'bin_country'?: (string);
  'exp_month': (number);
  'exp_year': (number);
  '_bin_country'?: "bin_country";
}
